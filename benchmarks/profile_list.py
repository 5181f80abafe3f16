"""Where a list page's time goes: cProfile over the Flask test client.

    python -m benchmarks.profile_list [--url DATABASE_URL] [--path /admin/movies/] [--requests 200] [--top 40]

Without ``--url`` a SQLite demo catalog of ``--movies`` movies is seeded in a temporary
folder. The console is built once, the page requested ``--requests`` times without the
profiler (p50 in ms: the profiler slows pure-Python code unevenly) and as many times
under it; the costliest calls are printed by own time and by cumulative time, then a
summary by area (SQL execution, Jinja rendering, Flask-Admin list machinery, ours).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time

__all__ = ["main"]

AREAS = (("database driver", ("psycopg2", "sqlite3", "cursor.execute", "method 'execute'", "method 'fetch")),
         ("SQLAlchemy", ("sqlalchemy",)), ("Jinja templates", ("jinja2", "template", "<template>")),
         ("Flask-Admin", ("flask_admin",)), ("WTForms", ("wtforms",)), ("Flask / Werkzeug", ("flask/", "werkzeug")),
         ("the console", ("/views/", "/backoffice/", "/audit_hooks/", "/models/")))


def _area(key) -> str:
    where = f"{key[0]}:{key[2]}"
    for name, marks in AREAS:
        if any(mark in where for mark in marks):
            return name
    return "other"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="DATABASE_URL (default: a fresh SQLite demo catalog)")
    parser.add_argument("--movies", type=int, default=20_000)
    parser.add_argument("--path", default="/admin/movies/")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--page-size", type=int, default=20,
                        help="rows on the console's page (plain Flask-Admin shows its default 20)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--save", help="also write the console's raw profile here (pstats format)")
    args = parser.parse_args(argv)

    folder = tempfile.mkdtemp(prefix="profile-list-")
    os.chdir(folder)
    url = args.url
    if url is None:
        from sqlalchemy import create_engine

        from backoffice.demo import seed_demo

        url = f"sqlite:///{folder}/demo.sqlite"
        engine = create_engine(url)
        seed_demo(engine, movies=args.movies)
        engine.dispose()
    os.environ.update(DATABASE_URL=url, SECRET_KEY="profile", LOG_LEVEL="ERROR")

    from benchmarks.apps import console_app, plain_simple_app

    for label, factory in (("console", console_app), ("simple_list_pager", plain_simple_app)):
        app = factory()
        client = app.test_client()
        # The same rows on both sides: the console's screens show 50 by default, Flask-Admin 20.
        path = args.path if label != "console" else (
            f"{args.path}{'&' if '?' in args.path else '?'}page_size={args.page_size}")
        for _ in range(5):  # warm-up: templates compiled, caches filled
            assert client.get(path).status_code == 200
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        print(f"{label:<18} {path}  p50 {statistics.median(times):7.2f} ms  "
              f"p95 {sorted(times)[int(len(times) * 0.95) - 1]:7.2f} ms  ({args.requests} requests)")
        if label != "console":
            continue
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            client.get(path)
        profiler.disable()
        if args.save:
            profiler.dump_stats(args.save)
        stats = pstats.Stats(profiler, stream=sys.stdout)
        areas: dict[str, float] = {}
        for key, (_cc, _nc, own, _cum, _callers) in stats.stats.items():
            areas[_area(key)] = areas.get(_area(key), 0.0) + own
        total = sum(areas.values()) or 1.0
        print("own time by area (profiled):")
        for name, own in sorted(areas.items(), key=lambda item: -item[1]):
            print(f"  {name:<18} {own / args.requests * 1000:7.2f} ms/request  {own / total:5.1%}")
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
