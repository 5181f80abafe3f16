"""What the audit trail's integrity costs: a movie delete with its cascade audited, beside
the same delete without any audit (raw SQL on another connection); and audit-verify's
speed with MACs, beside hashing alone.

    python -m benchmarks.bench_audit [--movies 2000] [--deletes 30] [--rows 5000]

Runs on a throwaway SQLite file unless DATABASE_URL is set (then that database is
changed: use a scratch copy). Prints medians in milliseconds and rows per second.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, select, text

from audit_hooks import audit_action
from audit_hooks.chain import canonical, verify
from audit_hooks.signing import keyring_for
from backoffice.core.settings import load_settings, normalise_database_url
from backoffice.demo import seed_demo
from console.app import create_app
from models.own import audit_events, init_db


def _movies_with_credits(engine, n: int, skip: int = 0) -> list[int]:
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT movie_id FROM movie_credits GROUP BY movie_id HAVING count(*) >= 3 ORDER BY movie_id "
            "LIMIT :n OFFSET :s"), {"n": n, "s": skip}).scalars().all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=2000)
    parser.add_argument("--deletes", type=int, default=30)
    parser.add_argument("--rows", type=int, default=5000, help="audit rows written before timing audit-verify")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    os.chdir(folder)
    url = normalise_database_url(os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'bench.sqlite'}")
    engine = create_engine(url)
    seed_demo(engine, movies=args.movies, seed=7)
    init_db(engine)
    env = {"DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "ERROR", "AUDIT_CHECKPOINT_EVERY": "0"}
    app = create_app(env)
    Movie = app.extensions["backoffice.reflection"].tables["movies"].model
    audited, raw = [], []
    ids = _movies_with_credits(engine, 2 * args.deletes)
    with app.app_context():
        db = app.extensions["backoffice.db"]
        for movie in ids[:args.deletes]:
            start = time.perf_counter()
            with audit_action("bench.delete"):
                db.session.delete(db.session.get(Movie, movie))
            db.session.commit()
            audited.append((time.perf_counter() - start) * 1000)
    for movie in ids[args.deletes:]:
        start = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM movies WHERE id = :m"), {"m": movie})
        raw.append((time.perf_counter() - start) * 1000)
    with engine.connect() as connection:
        cascaded = connection.execute(text("SELECT count(*) FROM backoffice_audit_events WHERE caused_by IS NOT NULL"
                                           )).scalar()
    print(f"movie delete, cascade audited : median {statistics.median(audited):7.2f} ms "
          f"({cascaded / max(len(audited), 1):.1f} cascaded rows audited per delete)")
    print(f"movie delete, raw SQL, no audit: median {statistics.median(raw):7.2f} ms  (baseline)")

    Genre = app.extensions["backoffice.reflection"].tables["genres"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        for i in range(args.rows // 100):
            with audit_action("bench.write"):
                db.session.add_all(Genre(name=f"bench {i}-{j}", tmdb_genre_id=i * 100 + j) for j in range(100))
            db.session.commit()
    keyring = keyring_for(load_settings(env))
    with engine.connect() as connection:
        start = time.perf_counter()
        outcome = verify(connection, keyring)
        with_mac = time.perf_counter() - start
        start = time.perf_counter()
        rows = connection.execute(select(audit_events)).mappings().all()
        hashed = sum(hashlib.sha256(canonical(dict(r))).hexdigest() == r["row_hash"] for r in rows)
        hash_only = time.perf_counter() - start
    assert outcome.ok and hashed == outcome.checked
    print(f"audit-verify with MACs : {outcome.checked / with_mac:10,.0f} rows/s ({outcome.checked} rows)")
    print(f"hashes only (baseline) : {hashed / hash_only:10,.0f} rows/s")
    engine.dispose()


if __name__ == "__main__":
    main()
