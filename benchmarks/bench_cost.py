#!/usr/bin/env python3
"""What still grows with the catalog, each figure beside its baseline in the same run.

    DATABASE_URL=postgresql://... .venv/bin/python -m benchmarks.bench_cost [--runs 5] [--export-rows 100000]

DATABASE_URL must hold a seeded demo catalog (``backoffice seed-demo --movies N``) the
benchmark may change: it drops the demo's catalog-health indexes to measure a catalog
without them, creates the advised ones, and puts the demo's back at the end.

1. Health: the plain SQL of each check (one query after the other) and the console's
   fresh computation, without the demo's health indexes and with the advised ones;
   then reading the stored snapshot (what every page view does) and the page itself.
2. Search: the movies list searched for a title that matches nothing and one that
   matches often, plain Flask-Admin (``simple_list_pager``) beside the console, with
   and without the advised trigram index.
3. Export: every movie as CSV through the console (rows per second, peak memory of
   the process) beside plain Flask-Admin's export of ``--export-rows`` rows, each in
   a fresh process so peak memory is the export's own.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("SECRET_KEY", "bench")
os.environ.setdefault("LOG_LEVEL", "ERROR")

from sqlalchemy import create_engine, text

from backoffice.core.settings import normalise_database_url
from backoffice.demo.schema import HEALTH_INDEXES, demo_metadata
from benchmarks.bench_catalog_health import STRAIGHTFORWARD

NOWHERE, OFTEN = "qzxjv", "harbor"


def _median_ms(call, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def _row(label: str, ours: float, base: float | None, unit: str = "ms", base_label: str = "") -> None:
    ratio = f"{ours / base:6.2f}x" if base and base_label != "p95" else "       "
    shown = f"{base:10.1f} {unit}" if base is not None else " " * 13
    print(f"  {label:<52} {ours:10.1f} {unit}  {base_label:<22}{shown}  {ratio}")


def _plain_sql(engine) -> float:
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.exec_driver_sql("SET statement_timeout = 0")
        for statements in STRAIGHTFORWARD.values():
            for statement in statements:
                conn.execute(text(statement)).all()
        conn.rollback()
    return (time.perf_counter() - started) * 1000


def health(engine, runs: int) -> None:
    from console.app import create_app
    from backoffice.catalog import catalog_health
    from backoffice.indexes import advice_for
    from backoffice.indexes.work import create

    app = create_app()
    service = catalog_health(app)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX IF EXISTS " + ", ".join(HEALTH_INDEXES))
        conn.exec_driver_sql("ANALYZE movies; ANALYZE movie_credits")
    print("\nCatalog health, fresh (ours: the console's computation under CATALOG_HEALTH_TIMEOUT_MS)")
    for label in ("without the demo's health indexes", "with the advised indexes"):
        base = statistics.median(_plain_sql(engine) for _ in range(max(1, runs // 2)))
        reports = []
        for _ in range(max(1, runs // 2)):
            reports.append(service.compute())
        ours = statistics.median(r.seconds * 1000 for r in reports)
        late = sorted({r.check.name for rep in reports for r in rep.results if r.status != "ok" and
                       r.status != "not applicable"})
        _row(f"{label}", ours, base, base_label="plain SQL, one by one")
        slowest = sorted(reports[-1].results, key=lambda r: -r.seconds)[:4]
        print(f"    slowest checks: {', '.join(f'{r.check.name} {r.seconds:.2f} s' for r in slowest)}; "
              f"not finished: {', '.join(late) or 'none'}")
        if label.startswith("without"):
            with app.app_context():
                advice = advice_for(app)
            for table in advice:
                for need in table.missing:
                    if need.check is not None:
                        create(engine, need, report=lambda line: None)
                        print(f"    created {need.name}")
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE movies; ANALYZE movie_credits")
    service.store_fresh()
    read, read95 = _median_ms(lambda: service.current(wait=0), 200)
    client = app.test_client()
    page, page95 = _median_ms(lambda: client.get("/admin/catalog-health/").get_data(), 50)
    print("  served from the stored snapshot (every worker and instance):")
    _row("read the snapshot (median; p95 beside)", read, read95, base_label="p95")
    _row("GET /admin/catalog-health/ (median; p95 beside)", page, page95, base_label="p95")


def search(engine, runs: int) -> None:
    from benchmarks.apps import console_app, plain_simple_app

    console, plain = console_app().test_client(), plain_simple_app().test_client()
    print("\nSearch on the movies list (first page), plain Flask-Admin simple_list_pager beside")
    for label in ("without a trigram index", "with the advised trigram index"):
        if label.startswith("with the"):
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                conn.exec_driver_sql("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_movies_title_trgm "
                                     "ON movies USING gin (title gin_trgm_ops)")
                conn.exec_driver_sql("ANALYZE movies")
        for term in (NOWHERE, OFTEN):
            url = f"/admin/movies/?search={term}"
            ours, _ = _median_ms(lambda: console.get(url).get_data(), runs)
            base, _ = _median_ms(lambda: plain.get(url).get_data(), runs)
            _row(f"{label}, '{term}'", ours, base, base_label="plain Flask-Admin")
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("DROP INDEX IF EXISTS ix_movies_title_trgm")


def export_child(kind: str, rows: int) -> None:
    """Run in a fresh process: one export, then print rows, seconds, memory before and peak."""
    from benchmarks.apps import console_app, plain_app

    if kind in ("console", "rows"):
        app = console_app()
        for view in app.extensions["backoffice.admin"]._views:
            if getattr(view, "screen", None) == "movies":
                view.copy_export = kind == "console"  # "rows": read and written by the worker
    else:
        app = plain_app(simple_list_pager=True)
        view = app.extensions["admin"][0]._views[-1]
        view.can_export, view.export_max_rows = True, rows
    client = app.test_client()
    before = _peak_mb()
    started = time.perf_counter()
    response = client.get("/admin/movies/export/csv/", buffered=False)
    lines = sum(chunk.count(b"\n") for chunk in response.response)
    response.close()
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    rows = lines - 1
    if kind != "plain":  # a text holding a line break spans lines: the export event has the row count
        with app.app_context():
            engine = app.extensions["backoffice.db"].engine
            with engine.connect() as conn:
                changes = conn.execute(text("SELECT changes FROM backoffice_audit_events WHERE action = 'export' "
                                            "ORDER BY id DESC LIMIT 1")).scalar()
        rows = (changes if isinstance(changes, dict) else json.loads(changes))["new"]["rows"]
    print(f"{rows} {seconds:.3f} {before:.1f} {peak:.1f}")


def _peak_mb() -> float:
    # VmHWM belongs to this process's own memory map (ru_maxrss can carry the parent's across exec).
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export(rows: int) -> None:
    print("\nCSV export of the movies list (a fresh process each; memory = its peak RSS)")
    results = {}
    for kind in ("console", "rows", "plain"):
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_cost", "--export-child", kind,
                              "--export-rows", str(rows)], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
        results[kind] = (int(out[0]), float(out[1]), float(out[2]), float(out[3]))
    (n, s, before, peak), (pn, ps, pbefore, ppeak) = results["console"], results["plain"]
    rn, rs, rbefore, rpeak = results["rows"]
    print(f"  {'':<52} {'rows':>10} {'rows/s':>10} {'MB before':>10} {'MB peak':>10}")
    print(f"  {'console, every movie (PostgreSQL writes the CSV)':<52} {n:>10,} {n / s:>10,.0f} {before:>10.1f} "
          f"{peak:>10.1f}")
    print(f"  {'console, every movie (rows read by the worker)':<52} {rn:>10,} {rn / rs:>10,.0f} {rbefore:>10.1f} "
          f"{rpeak:>10.1f}")
    print(f"  {'plain Flask-Admin, export_max_rows=' + format(rows, ','):<52} {pn:>10,} {pn / ps:>10,.0f} "
          f"{pbefore:>10.1f} {ppeak:>10.1f}")


def restore(engine) -> None:
    with engine.begin() as conn:
        for index in demo_metadata.sorted_tables:
            for item in index.indexes:
                if item.name in HEALTH_INDEXES:
                    item.create(conn, checkfirst=True)
        for name in ("ix_movies_title_release_date_expr", "ix_movie_credits_movie_id_cast_cov",
                     "ix_movie_credits_movie_id_director_cov"):
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--export-rows", type=int, default=100_000, help="plain Flask-Admin's export cap")
    parser.add_argument("--export-child", choices=("console", "rows", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=("health", "search", "export"), action="append")
    args = parser.parse_args()
    if args.export_child:
        export_child(args.export_child, args.export_rows)
        return
    engine = create_engine(normalise_database_url(os.environ["DATABASE_URL"]))
    with engine.connect() as conn:
        movies = conn.execute(text("SELECT count(*) FROM movies")).scalar()
    load = os.getloadavg()
    print(f"{movies:,} movies; {os.cpu_count()} CPUs; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    only = set(args.only or ("health", "search", "export"))
    try:
        if "health" in only:
            health(engine, args.runs)
        if "search" in only:
            search(engine, args.runs)
        if "export" in only:
            export(args.export_rows)
    finally:
        restore(engine)
        engine.dispose()


if __name__ == "__main__":
    main()
