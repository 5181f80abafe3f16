"""``python -m benchmarks.bench_record_page``: what a record's references and history cost a
details page, beside the same page without them (the baseline).

A demo catalog is seeded in a temporary SQLite file (or the PostgreSQL database given with
``--database-url``); one movie gets ``--credits`` extra credits, past the count cap. The
details page of that movie, of a movie with a handful of credits, and of the busy movie
with the sections switched off are each requested ``--requests`` times in process (Flask's
test client: the page's own work, no network) and the median / p95 printed in ms.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import click
from sqlalchemy import create_engine, text

from backoffice.core.settings import normalise_database_url
from backoffice.demo import seed_demo
from models.own import init_db

from benchmarks.review import median_p95

__all__ = ["bench_record_page"]


def _timings(client, path: str, requests: int) -> list[float]:
    assert client.get(path).status_code == 200, path  # warm-up, and the page must work
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, path
    return samples


@click.command()
@click.option("--database-url", default=None, help="An empty database to seed (default: a temporary SQLite file).")
@click.option("--movies", default=2000, show_default=True)
@click.option("--credits", default=200_000, show_default=True, help="Extra credits of the busy movie.")
@click.option("--requests", default=50, show_default=True)
def bench_record_page(database_url: str | None, movies: int, credits: int, requests: int) -> None:
    """Details page with references and history, beside the same page without them."""
    from console.app import create_app
    import views.presentation

    workdir = Path(tempfile.mkdtemp(prefix="bench-record-"))
    url = database_url or f"sqlite:///{workdir / 'demo.sqlite'}"
    engine = create_engine(normalise_database_url(url))
    seed_demo(engine, movies=movies, seed=7)
    init_db(engine)
    with engine.begin() as connection:
        busy = connection.execute(text("SELECT min(movie_id) FROM movie_credits")).scalar()
        quiet = connection.execute(text("SELECT movie_id FROM movie_credits GROUP BY movie_id "
                                        "HAVING count(*) BETWEEN 2 AND 6 ORDER BY movie_id LIMIT 1")).scalar()
        people = connection.execute(text("SELECT count(*) FROM people")).scalar()
        rounds = credits // people + 1
        connection.execute(text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rounds) "
            "INSERT INTO movie_credits (movie_id, person_id, credit_type, job) "
            "SELECT :m, p.id, 'crew', 'Grip' FROM people p, n"), {"m": busy, "rounds": rounds})
        total = connection.execute(text("SELECT count(*) FROM movie_credits WHERE movie_id = :m"), {"m": busy}).scalar()
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
    engine.dispose()
    os.chdir(workdir)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "ERROR"})
    client = app.test_client()
    rows = [(f"busy movie ({total:,} credits)", f"/admin/movies/details/?id={busy}"),
            ("quiet movie", f"/admin/movies/details/?id={quiet}")]
    click.echo(f"{engine.dialect.name}, {movies:,} movies, {requests} requests each: median / p95 ms")
    for label, path in rows:
        click.echo("  {:<40} {:8.1f} {:8.1f}".format(label, *median_p95(_timings(client, path, requests))))
    part = views.presentation.PresentationPart
    saved = part.record_references, part.record_history
    part.record_references, part.record_history = (lambda self, model: []), (lambda self, model: None)
    try:
        baseline = _timings(client, rows[0][1], requests)
    finally:
        part.record_references, part.record_history = saved
    click.echo("  {:<40} {:8.1f} {:8.1f}".format("baseline: busy movie, no sections", *median_p95(baseline)))


if __name__ == "__main__":
    bench_record_page()
