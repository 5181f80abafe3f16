#!/usr/bin/env python3
"""Benchmark catalog health on PostgreSQL: straightforward queries versus ours.

    python -m benchmarks.bench_catalog_health [--movies 1000000] [--runs 5]

Uses DATABASE_URL when set (a PostgreSQL database it may seed), else starts a
throwaway cluster (testing_support) and removes it afterwards. Seeds the demo
catalog with ``backoffice seed-demo --movies N`` unless the database already
holds exactly N movies, creates any missing index of the demo schema, VACUUM
ANALYZEs, then prints the median of ``--runs`` runs:

- "straightforward": one plain query per check (five COUNTs for missing fields,
  GROUP BY ... HAVING for duplicates, NOT EXISTS anti-joins), run one after the
  other on the schema WITHOUT the catalog-health indexes (dropped inside a
  transaction that is rolled back, so the database is left as it was);
- "ours": ``backoffice.catalog`` exactly as the page and CLI run it (shared scans,
  indexes, concurrent units), total wall time and per unit.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from backoffice.catalog import CatalogHealth
from backoffice.catalog.validation import resolve_checks
from backoffice.core.declarations import Declarations
from backoffice.demo.schema import HEALTH_INDEXES, demo_metadata
from backoffice.core.settings import normalise_database_url
from models.reflection import reflect
from testing_support import PostgresServer

ROOT = Path(__file__).resolve().parent.parent

STALE_DAYS = 180
STRAIGHTFORWARD = {
    "missing (5 counts)": [
        "SELECT count(*) FROM movies WHERE overview IS NULL",
        "SELECT count(*) FROM movies WHERE poster_path IS NULL",
        "SELECT count(*) FROM movies WHERE release_date IS NULL",
        "SELECT count(*) FROM movies WHERE runtime_minutes IS NULL",
        "SELECT count(*) FROM movies WHERE overview IS NULL OR poster_path IS NULL OR release_date IS NULL "
        "OR runtime_minutes IS NULL",
    ],
    "duplicate_imdb_id": ["SELECT count(*), sum(n) FROM (SELECT imdb_id, count(*) n FROM movies "
                          "WHERE imdb_id IS NOT NULL GROUP BY imdb_id HAVING count(*) > 1) g"],
    "duplicate_title_year": ["SELECT count(*), sum(n) FROM (SELECT lower(trim(title)), "
                             "extract(year FROM release_date), count(*) n FROM movies WHERE release_date IS NOT NULL "
                             "GROUP BY 1, 2 HAVING count(*) > 1) g"],
    "stale_tmdb": [f"SELECT count(*) FROM movies WHERE tmdb_id IS NOT NULL AND (tmdb_synced_at IS NULL "
                   f"OR tmdb_synced_at < now() - interval '{STALE_DAYS} days')"],
    "no_cast": ["SELECT count(*) FROM movies m WHERE NOT EXISTS (SELECT 1 FROM movie_credits c "
                "WHERE c.movie_id = m.id AND c.credit_type = 'cast')"],
    "no_director": ["SELECT count(*) FROM movies m WHERE NOT EXISTS (SELECT 1 FROM movie_credits c "
                    "WHERE c.movie_id = m.id AND c.job = 'Director')"],
    "no_genre": ["SELECT count(*) FROM movies m WHERE NOT EXISTS (SELECT 1 FROM movie_genres g "
                 "WHERE g.movie_id = m.id)"],
    "no_keyword": ["SELECT count(*) FROM movies m WHERE NOT EXISTS (SELECT 1 FROM movie_keywords k "
                   "WHERE k.movie_id = m.id)"],
}


def _median(values: list[float]) -> float:
    return statistics.median(values)


def prepare(url: str, movies: int) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            present = conn.execute(text("SELECT count(*) FROM movies")).scalar()
    except Exception:
        present = None
    if present == movies:
        print(f"seed: reusing {movies:,} movies already in the database")
    else:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "console.cli", "seed-demo", "--movies", str(movies)], check=True,
                       env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        print(f"seed: {movies:,} movies in {time.monotonic() - started:.1f} s (backoffice seed-demo)")
    for table in demo_metadata.sorted_tables:
        for index in table.indexes:
            index.create(engine, checkfirst=True)
    started = time.monotonic()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        credits = conn.execute(text("SELECT count(*) FROM movie_credits")).scalar()
    print(f"vacuum analyze: {time.monotonic() - started:.1f} s; {credits:,} credits")
    engine.dispose()


def straightforward(url: str, runs: int) -> dict[str, float]:
    engine = create_engine(url)
    timings: dict[str, list[float]] = {name: [] for name in STRAIGHTFORWARD}
    with engine.connect() as conn:
        conn.execute(text("SET statement_timeout = 0"))
        # Hide the catalog-health indexes for these queries only (rolled back below).
        for name in HEALTH_INDEXES:
            conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
        for _ in range(runs):
            for name, statements in STRAIGHTFORWARD.items():
                started = time.monotonic()
                for sql in statements:
                    conn.execute(text(sql)).all()
                timings[name].append(time.monotonic() - started)
        conn.rollback()
    engine.dispose()
    return {name: _median(values) for name, values in timings.items()}


def ours(url: str, runs: int, workers: int) -> tuple[float, dict[str, float], dict]:
    engine = create_engine(url, pool_size=8)
    reflection = reflect(engine)
    checks, problems = resolve_checks(Declarations(), reflection)
    assert not problems, problems
    service = CatalogHealth(engine, reflection, checks, stale_days=STALE_DAYS, cache_seconds=0, timeout_ms=60000,
                            workers=workers)
    totals, per_check = [], {c.name: [] for c in checks}
    report = None
    for _ in range(runs):
        report = service.report(cached=False)
        totals.append(report.seconds)
        for result in report.results:
            per_check[result.check.name].append(result.seconds)
    engine.dispose()
    counts = {r.check.name: (r.status, r.count) for r in report.results}
    return _median(totals), {name: _median(v) for name, v in per_check.items()}, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    server = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        server = PostgresServer.start()
        url = server.create_database("bench")
    url = normalise_database_url(url)
    try:
        prepare(url, args.movies)
        baseline = straightforward(url, args.runs)
        total, per_check, counts = ours(url, args.runs, args.workers)
        sequential, _per, _counts = ours(url, args.runs, 1)
    finally:
        if server is not None:
            server.stop()
    print(f"\nmedian of {args.runs} runs, {args.movies:,} movies")
    print(f"{'straightforward (no health indexes, one by one)':<52}{'seconds':>9}")
    for name, seconds in baseline.items():
        print(f"  {name:<50}{seconds:9.3f}")
    print(f"  {'total':<50}{sum(baseline.values()):9.3f}")
    print(f"\n{'ours (units: a shared scan counts for each of its checks)':<52}{'seconds':>9}  result")
    for name, seconds in per_check.items():
        status, count = counts[name]
        print(f"  {name:<50}{seconds:9.3f}  {count if status == 'ok' else status}")
    print(f"  {'total, ' + str(args.workers) + ' concurrent connections':<50}{total:9.3f}")
    print(f"  {'total, one connection (sequential)':<50}{sequential:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
