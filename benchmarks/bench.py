"""``python -m benchmarks.bench``: the console against plain Flask-Admin on a million movies.

Every app runs under gunicorn the same way (2 sync workers, loopback, no control
socket, the console's ``console.gunicorn_conf``: preloaded, workers forked from it)
on the same PostgreSQL database; each scenario is requested sequentially
``--requests`` times after a warm-up, then the list page is loaded by 8 concurrent
clients (wrk when installed, else a thread pool). Everything is bounded: a fixed
number of requests per scenario, a fixed load duration, loopback only.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from benchmarks.review import median_p95
from testing_support import free_port, stop_process, wait_until_serving

__all__ = ["bench"]


def _get(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return status, (time.perf_counter() - started) * 1000


class Served:
    """One app under gunicorn on a free loopback port."""

    def __init__(self, target: str, env: dict, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:console.gunicorn_conf", "-w", "2",
             "--no-control-socket", "-b", f"127.0.0.1:{self.port}", "--timeout", "60", target],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            status = wait_until_serving(self.base + "/admin/", self.process, log=log)
        except RuntimeError as exc:
            raise click.ClickException(f"{target} did not start: {exc}") from None
        if status >= 500:
            self.stop()
            raise click.ClickException(f"{target} answers /admin/ with HTTP {status}; see {log}")

    def worker_memory_mb(self) -> list[tuple[float, float, float]]:
        """(RSS, PSS, private) MB per worker. RSS counts the pages shared with the master (and
        the other worker, and every other process mapping the same libraries) in full; PSS
        divides each shared page among the processes sharing it (what the worker costs the
        machine: the PSS of all processes adds up to the memory in use); private is what
        this worker alone adds."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        sizes = []
        for pid in children:
            fields = {}
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
                name, _, value = line.partition(":")
                fields[name] = int(value.split()[0]) if value.split() else 0
            private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
            sizes.append((fields.get("Rss", 0) / 1024, fields.get("Pss", 0) / 1024, private / 1024))
        return sizes

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()


def _latencies(urls: list[str | None], requests: int) -> list[tuple[float, float, int] | None]:
    """Median, p95 (ms) and last status per URL, requests interleaved round-robin so that
    load from anything else on the machine falls on every app alike."""
    live = [u for u in urls if u]
    for _ in range(3):
        for url in live:
            _get(url)
    samples: dict[str, list[float]] = {u: [] for u in live}
    status: dict[str, int] = {}
    for _ in range(requests):
        for url in live:
            status[url], ms = _get(url)
            samples[url].append(ms)
    result = []
    for url in urls:
        if not url:
            result.append(None)
            continue
        result.append((*median_p95(samples[url]), status[url]))
    return result


def _throughput(url: str, seconds: int) -> float:
    if subprocess.run(["which", "wrk"], capture_output=True).returncode == 0:
        out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", url], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Requests/sec:"):
                return float(line.split()[1])
    deadline, done = time.monotonic() + seconds, []

    def client():
        while time.monotonic() < deadline:
            _get(url)
            done.append(1)

    with ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(client)
    return len(done) / seconds


def _movies_in(url: str) -> int:
    from sqlalchemy import create_engine, text

    from backoffice.core.settings import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('movies')")).scalar() is None:
                return 0
            return conn.execute(text("SELECT count(*) FROM movies")).scalar()
    finally:
        engine.dispose()


def _filter_arg(app, view_class_name: str | None = None) -> str:
    for view in app.extensions["admin"][0]._views:
        for index, flt in enumerate(getattr(view, "_filters", None) or []):
            if getattr(flt, "column", None) is not None and flt.column.name == "release_date" \
                    and flt.operation() == "greater than":
                return f"flt0_{index}=2020-01-01"
    raise click.ClickException("no release_date filter found")


def _page_key(url: str, page: int, page_size: int) -> int:
    from sqlalchemy import create_engine, text

    from backoffice.core.settings import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT id FROM movies ORDER BY id OFFSET :o LIMIT 1"),
                                {"o": page * page_size - 1}).scalar()
    finally:
        engine.dispose()


@click.command("bench")
@click.option("--movies", type=click.IntRange(min=1000), default=1_000_000, show_default=True)
@click.option("--requests", "count", type=click.IntRange(5, 500), default=30, show_default=True,
              help="Sequential requests per scenario and app.")
@click.option("--seconds", type=click.IntRange(2, 120), default=10, show_default=True, help="Load duration.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("instance/bench-pg"), show_default=True,
              help="Persistent PostgreSQL cluster (used when DATABASE_URL is unset).")
def bench(movies: int, count: int, seconds: int, data_dir: Path) -> None:
    """Latency, throughput and memory: the console vs plain Flask-Admin on the same PostgreSQL."""
    from benchmarks.db import ensure_database

    cluster = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        cluster = ensure_database(data_dir)
        url = cluster.url
    if _movies_in(url) != movies:
        click.echo(f"seeding {movies:,} movies (a few minutes; reused by later runs) ...")
        subprocess.run([sys.executable, "-m", "console.cli", "seed-demo", "--movies", str(movies)],
                       env={**os.environ, "DATABASE_URL": url}, check=True)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"}
    os.environ.update({"DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
    from benchmarks.apps import console_app, plain_app

    ours_filter, plain_filter = _filter_arg(console_app()), _filter_arg(plain_app())
    # 20: plain Flask-Admin's default page size, for the same rows on screen. Page 1,000, or the
    # middle page of a smaller catalog.
    page_size = 20
    deep = min(1000, max(movies // page_size // 2, 2))
    key = _page_key(url, deep - 1, page_size)
    scenarios = [
        ("list, first page", f"/admin/movies/?page_size={page_size}", "/admin/movies/"),
        (f"list, page {deep:,}", f"/admin/movies/?page={deep - 1}&after={key}&page_size={page_size}",
         f"/admin/movies/?page={deep - 1}"),
        # "love" is in none of the generated titles (both apps read the whole table: the worst
        # case); "night" is in about one title in thirty (a count that stops at 10,000+).
        ("title search, no match", f"/admin/movies/?search=love&page_size={page_size}", "/admin/movies/?search=love"),
        ("title search, frequent word", f"/admin/movies/?search=night&page_size={page_size}",
         "/admin/movies/?search=night"),
        ("filtered list", f"/admin/movies/?{ours_filter}&page_size={page_size}", f"/admin/movies/?{plain_filter}"),
        ("catalog-health overview", "/admin/catalog-health/", None),
        # Plain Flask-Admin's nearest equivalent: the movie's edit form, opened and saved.
        ("review apply (confirm + execute) / plain: edit form + save", "/admin/review-queue/", None),
    ]
    load_before = os.getloadavg()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ours = Served("benchmarks.apps:console_app()", env, logs / "console.log")
    plain = Served("benchmarks.apps:plain_app()", env, logs / "plain.log")
    simple = Served("benchmarks.apps:plain_simple_app()", env, logs / "plain-simple.log")
    rows, notes = [], []
    try:
        for name, ours_path, plain_path in scenarios:
            if _get(ours.base + ours_path)[0] == 404:
                notes.append(f"{name}: skipped, {ours_path} does not exist in this build")
                continue
            if name.startswith("review apply"):
                rows.append((name, _review_apply(url, ours.base, count), _plain_edit(url, plain.base, count), None))
                continue
            o, p, f = _latencies([ours.base + ours_path, plain_path and plain.base + plain_path,
                                  plain_path and name.startswith("list") and simple.base + plain_path], count)
            rows.append((name, o, p, f))
        # Three short rounds, apps alternating; the median round counts.
        targets = [ours.base + f"/admin/movies/?page_size={page_size}", plain.base + "/admin/movies/",
                   simple.base + "/admin/movies/"]
        rounds = [[_throughput(url, max(seconds // 3, 2)) for url in targets] for _ in range(3)]
        ours_rps, plain_rps, simple_rps = (statistics.median(r[i] for r in rounds) for i in range(3))
        rss = (ours.worker_memory_mb(), plain.worker_memory_mb(), simple.worker_memory_mb())
    finally:
        for served in (ours, plain, simple):
            served.stop()
        if cluster is not None:
            cluster.stop()  # the data stays in --data-dir for the next run
    notes.append("load average (1, 5, 15 min) at start %.1f %.1f %.1f, at end %.1f %.1f %.1f"
                 % (*load_before, *os.getloadavg()))
    _report(movies, count, rows, notes, (ours_rps, plain_rps, simple_rps), rss)


def _review_apply(url: str, base: str, count: int):
    """Median / p95 of ``count`` applies (each on a different pending review), or None."""
    from benchmarks.review import applicable_reviews, applied_count, measure_review_apply

    def choose(engine):
        ids = applicable_reviews(engine, count + 3)
        # Too few left: the pending reviews are used up; re-seed (``seed-demo``) to measure again.
        return ids if len(ids) == count + 3 else None

    return _measured_writes(url, choose, lambda ids: measure_review_apply(base, ids, warmup=3), applied_count)


def _plain_edit(url: str, base: str, count: int):
    """Median / p95 of plain Flask-Admin's edit form opened and saved with a new tmdb_id."""
    from benchmarks.review import editable_movies, edited_count, measure_plain_edit

    return _measured_writes(url, lambda engine: editable_movies(engine, count + 3),
                            lambda edits: measure_plain_edit(base, edits, warmup=3), edited_count)


def _measured_writes(url: str, choose, measure, carried_out):
    """Time the writes ``measure`` makes on the targets ``choose`` picks, then check in the
    database that every one took effect (a write that did not counts as HTTP 409)."""
    from sqlalchemy import create_engine

    from backoffice.core.settings import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    try:
        targets = choose(engine)
        if targets is None:
            return None
        median, p95, unexpected = measure(targets)
        if carried_out(engine, targets) != len(targets):
            unexpected = unexpected or 409
    finally:
        engine.dispose()
    return median, p95, unexpected or 200


def _report(movies, count, rows, notes, rps, rss) -> None:
    click.echo(f"\n{movies:,} movies, PostgreSQL, gunicorn 2 sync workers, {count} sequential requests per cell; "
               "ratio = console / plain")
    click.echo("| scenario | console median / p95 ms | plain Flask-Admin | ratio | plain + simple_list_pager | ratio |")
    click.echo("| --- | ---: | ---: | ---: | ---: | ---: |")
    cell = lambda r: f"{r[0]:.1f} / {r[1]:.1f}" if r else "n/a"  # noqa: E731
    ratio = lambda o, r: f"{o[0] / r[0]:.2f}" if r else "n/a"  # noqa: E731
    for name, o, p, f in rows:
        failed = [str(r[2]) for r in (o, p, f) if r and r[2] != 200]
        label = name + (f" (HTTP {', '.join(failed)})" if failed else "")
        click.echo(f"| {label} | {cell(o)} | {cell(p)} | {ratio(o, p)} | {cell(f)} | {ratio(o, f)} |")
    click.echo(f"| list page, 8 clients, requests/s | {rps[0]:.0f} | {rps[1]:.0f} | {rps[0] / rps[1]:.2f} | "
               f"{rps[2]:.0f} | {rps[0] / rps[2]:.2f} |")
    mb = lambda sizes, i: ", ".join(f"{m[i]:.0f}" for m in sizes)  # noqa: E731
    click.echo(f"| worker RSS MB (each) | {mb(rss[0], 0)} | {mb(rss[1], 0)} | | {mb(rss[2], 0)} | |")
    click.echo(f"| worker PSS MB (each) | {mb(rss[0], 1)} | {mb(rss[1], 1)} | | {mb(rss[2], 1)} | |")
    click.echo(f"| worker private MB (each) | {mb(rss[0], 2)} | {mb(rss[1], 2)} | | {mb(rss[2], 2)} | |")
    for note in notes:
        click.echo(f"note: {note}")


if __name__ == "__main__":
    bench()
