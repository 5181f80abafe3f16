"""``python -m benchmarks.bench_list``: a list page's time beside ``simple_list_pager``'s.

    python -m benchmarks.bench_list [--url DATABASE_URL] [--movies 5000] [--requests 300]

Four runs in one process over the same catalog, requested in turn (one request of each
in a rotating order, then the next round) so that the load of a shared machine falls on all four alike:

* ``console``: the console as it is;
* ``console, before round 2``: the fast paths of the first round of issue 22 item 4 on,
  those of the second (cached sidebar, exact count in the page's statement, row actions kept
  per screen) off;
* ``console, slow paths``: the same app with the list page's switchable fast paths off
  (every row through a template block, ``url_for`` for every link, the tab bar, header
  and pagers through Flask-Admin's macros). What is not switchable stays on: the
  console's own list template with its parts kept once rendered and the counted page's
  query built once (third round), so this is no longer exactly the page before issue 22;
* ``simple_list_pager``: plain Flask-Admin with ``simple_list_pager`` (no count), the floor.

Without ``--url`` a SQLite demo catalog of ``--movies`` movies is seeded in a temporary
folder. Prints p50 and p95 per app and each console figure as a ratio of the plain one,
and the Python heap the console's rendering allocates at its peak (tracemalloc, one page).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import tracemalloc

__all__ = ["main"]


#: The list page's fast paths by round of work: the first round's (fast rows, prefixed
#: URLs) and the second's (cached sidebar, ...). "before" switches the second round off.
FIRST_ROUND = ("fast_table", "prefix_urls")
SECOND_ROUND = ("fast_sidebar", "fast_count", "fast_action_cache")


def _switch(app, fast: bool, second: bool | None = None) -> None:
    """All fast paths on (``fast``) or off; ``second`` overrides the second round's."""
    second = fast if second is None else second
    for view in app.extensions["backoffice.admin"]._views:
        for name in FIRST_ROUND + SECOND_ROUND:
            if hasattr(view, name):
                setattr(view, name, fast if name in FIRST_ROUND else second)


def _peak_kib(client, path: str) -> float:
    tracemalloc.start()
    client.get(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="DATABASE_URL (default: a fresh SQLite demo catalog)")
    parser.add_argument("--postgres", action="store_true",
                        help="seed the demo catalog in a throwaway PostgreSQL cluster instead of SQLite")
    parser.add_argument("--movies", type=int, default=5_000)
    parser.add_argument("--path", action="append", help="list page (repeatable; default /admin/movies/)")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--page-size", type=int, default=20,
                        help="rows on the console's page (plain Flask-Admin shows its default 20)")
    args = parser.parse_args(argv)
    paths = args.path or ["/admin/movies/"]

    folder = tempfile.mkdtemp(prefix="bench-list-")
    os.chdir(folder)
    url, server = args.url, None
    if url is None:
        from sqlalchemy import create_engine

        from backoffice.core.settings import normalise_database_url
        from backoffice.demo import seed_demo

        if args.postgres:
            from testing_support.postgres import PostgresServer, find_binaries

            server = PostgresServer.start(find_binaries())
            url = server.create_database("bench_list")
        else:
            url = f"sqlite:///{folder}/demo.sqlite"
        engine = create_engine(normalise_database_url(url))
        seed_demo(engine, movies=args.movies)
        engine.dispose()
    try:
        _measure(url, paths, args.requests, args.page_size)
    finally:
        if server is not None:
            server.stop()


def _measure(url: str, paths: list[str], requests: int, page_size: int) -> None:
    os.environ.update(DATABASE_URL=url, SECRET_KEY="bench", LOG_LEVEL="ERROR")

    from benchmarks.apps import console_app, plain_simple_app

    console = console_app()
    simple = plain_simple_app()
    ours, plain = console.test_client(), simple.test_client()
    # The same rows on both sides: the console's screens show 50 by default, Flask-Admin 20.
    sized = lambda path: f"{path}{'&' if '?' in path else '?'}page_size={page_size}"  # noqa: E731
    fast = lambda path: (_switch(console, True), ours.get(sized(path)))  # noqa: E731
    before = lambda path: (_switch(console, True, False), ours.get(sized(path)))  # noqa: E731
    slow = lambda path: (_switch(console, False), ours.get(sized(path)))  # noqa: E731
    runs = {"console": fast, "console, before round 2": before, "console, slow paths": slow,
            "simple_list_pager": lambda path: plain.get(path)}
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min)")
    for path in paths:
        for run in runs.values():
            for _ in range(5):  # warm-up: templates compiled, caches filled
                run(path)
        times: dict[str, list[float]] = {name: [] for name in runs}
        names = list(runs)
        for round_ in range(requests):
            # Each app goes first, second, ... in turn: no app always follows another.
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                run = runs[name]
                started = time.perf_counter()
                run(path)
                times[name].append((time.perf_counter() - started) * 1000)
        base = statistics.median(times["simple_list_pager"])
        print(f"{path}  ({requests} rounds, requested in turn; console at page_size={page_size})")
        for name, values in times.items():
            p50, p95 = statistics.median(values), sorted(values)[int(len(values) * 0.95) - 1]
            print(f"  {name:<25} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  ratio {p50 / base:5.2f}")
        _switch(console, True)
        print(f"  peak Python heap of one page: console {_peak_kib(ours, sized(path)):,.0f} KiB, "
              f"before round 2 {(_switch(console, True, False), _peak_kib(ours, sized(path)))[1]:,.0f} KiB, "
              f"slow paths {(_switch(console, False), _peak_kib(ours, sized(path)))[1]:,.0f} KiB, "
              f"simple_list_pager {_peak_kib(plain, path):,.0f} KiB")
        _switch(console, True)
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
