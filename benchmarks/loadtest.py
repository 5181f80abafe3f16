#!/usr/bin/env python3
"""A bounded load test of the console under gunicorn (2 workers), on loopback only.

    python -m benchmarks.loadtest [--duration 60] [--clients 16] [--wrk N]

Uses DATABASE_URL when set (seeded with the demo catalog only when it has no
``movies`` table, or with ``--seed``), else starts a throwaway PostgreSQL with
testing_support, seeds 2,000 demo movies and removes the cluster afterwards. The
console runs with the demo declarative file (search and filters), basic auth and
a fixed SECRET_KEY (CSRF tokens must verify on either worker).

Of the clients, half (``--wrk N``) are wrk connections when wrk is installed: they
drive the read-only screens (lists, search, catalog health, health endpoints) and
count 5xx in a Lua callback. The others are Python threads:
each client thread has its own cookie jar and loops until the deadline over list
screens (pages, search, filters, details), catalog health, /healthz and /readyz and
review actions (list -> confirm -> execute, the flash read back). Afterwards every
execute is checked against the audit trail: a decided row has exactly one audit
event carrying that response's X-Request-Id, a skipped one has none. Exits 1 on
any 5xx, transport error or audit mismatch; prints latency percentiles per group.
"""
from __future__ import annotations

import argparse
import base64
import http.cookiejar
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from testing_support import PostgresServer, free_port, stop_process, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["LoadResult", "run_load", "main"]

USER, PASSWORD = "loadtest", "loadtest-password-not-secret"
QUEUE = "/admin/review-queue/"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_ROW_ACTION = re.compile(r'name="row_action" value="((?:apply|defer|reject):\d+)"')
_TOKEN = re.compile(r'name="token" value="([^"]+)"')
_OUTCOME = re.compile(r"(\d+) of (\d+) rows? (\w+); (\d+) skipped")


@dataclass
class Execute:
    """One execute POST: the review row, the response's request id and what the flash said."""

    review_id: int
    request_id: str
    done: int


@dataclass
class LoadResult:
    """Everything one run measured, and the verdict."""

    duration: float = 0.0
    samples: dict = field(default_factory=lambda: defaultdict(list))  # group -> [seconds]
    statuses: dict = field(default_factory=lambda: defaultdict(int))  # status -> count
    errors: list = field(default_factory=list)  # transport errors and 5xx, described
    executes: list = field(default_factory=list)
    audit_problems: list = field(default_factory=list)
    wrk: dict = field(default_factory=dict)  # the wrk driver's summary, when it ran

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.samples.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.audit_problems and self.server_errors == 0

    def report(self) -> str:
        lines = [f"{'group':<16}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"]
        for group in sorted(self.samples):
            times = sorted(self.samples[group])
            lines.append(f"{group:<16}{len(times):>9}" + "".join(
                f"{_percentile(times, q) * 1000:>9.1f}" for q in (50, 95, 99, 100)))
        decided = sum(1 for e in self.executes if e.done)
        lines += [
            f"{self.requests} requests in {self.duration:.1f}s: {self.requests / max(self.duration, 1e-9):.1f} req/s",
            "statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items())),
            f"review executes: {len(self.executes)} ({decided} decided, {len(self.executes) - decided} skipped)",
            f"5xx: {self.server_errors}; transport errors: {len(self.errors)}; "
            f"audit problems: {len(self.audit_problems)}",
        ]
        if self.wrk:
            w = self.wrk
            lines.append(f"wrk ({w['connections']} connections, read-only screens): {w['requests']} requests, "
                         f"p50 {w['p50']:.1f} ms, p95 {w['p95']:.1f} ms, p99 {w['p99']:.1f} ms, "
                         f"5xx {w['5xx']}, socket errors {w['socket_errors']}")
        lines += [f"  ! {problem}" for problem in (self.errors + self.audit_problems)[:20]]
        return "\n".join(lines)


def _percentile(sorted_values: list, q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 302 itself is what we measure (and its X-Request-Id)


class _Client:
    """One operator: a cookie jar, basic auth, timings into the shared result."""

    def __init__(self, base: str, result: LoadResult, lock: threading.Lock, rng: random.Random):
        self.base, self.result, self.lock, self.rng = base, result, lock, rng
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())
        self.auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def request(self, group: str, path: str, form: dict | None = None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers={"Authorization": self.auth})
        started = time.perf_counter()
        try:
            with self.opener.open(req, timeout=60) as response:
                status, headers, body = response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, headers, body = exc.code, exc.headers, exc.read().decode(errors="replace")
        except OSError as exc:
            with self.lock:
                self.result.errors.append(f"{group} {path}: {exc!r}")
            return None, {}, ""
        elapsed = time.perf_counter() - started
        with self.lock:
            self.result.samples[group].append(elapsed)
            self.result.statuses[status] += 1
            if status >= 500:
                self.result.errors.append(f"{group} {path}: HTTP {status}")
        return status, headers, body

    # -- what an operator does --------------------------------------------------------
    #: One ``browse`` choice inside each group's share of [0, 1): the opening tour's picks.
    TOUR = (0.0, 0.30, 0.45, 0.55, 0.62, 0.75)

    def browse(self, choice: float | None = None) -> None:
        rng = self.rng
        choice = rng.random() if choice is None else choice
        if choice < 0.30:
            self.request("list", f"/admin/movies/?page={rng.randint(0, 30)}")
        elif choice < 0.45:
            term = rng.choice(["the", "love", "night", "star", "a", "zz-nothing", "man"])
            self.request("search", f"/admin/movies/?search={term}")
        elif choice < 0.55:
            self.request("filter", rng.choice([
                "/admin/movie_credits/?flt0_0=cast", "/admin/tmdb_match_reviews/?flt0_0=pending",
                "/admin/people/?page=3", "/admin/movies/?sort=1&desc=1"]))
        elif choice < 0.62:
            self.request("details", f"/admin/movies/details/?id={rng.randint(1, 2000)}")
        elif choice < 0.75:
            self.request("catalog-health", rng.choice(["/admin/catalog-health/",
                                                       "/admin/catalog-health/check/missing_overview/"]))
        else:
            self.request("healthz", rng.choice(["/healthz", "/readyz"]))

    def review(self) -> None:
        status, _, page = self.request("review-list", f"{QUEUE}?state=pending&page={self.rng.randint(0, 3)}")
        actions, csrf = _ROW_ACTION.findall(page or ""), _CSRF.search(page or "")
        if status != 200 or not actions or not csrf:
            return
        row_action = self.rng.choice(actions)
        status, _, confirm = self.request("review-confirm", QUEUE + "confirm/",
                                          {"csrf_token": csrf.group(1), "row_action": row_action})
        token, csrf = _TOKEN.search(confirm or ""), _CSRF.search(confirm or "")
        if status != 200 or not token or not csrf:
            return
        status, headers, _ = self.request("review-execute", QUEUE + "execute/", {
            "csrf_token": csrf.group(1), "token": token.group(1), "reason": "load test"})
        if status != 302:
            return
        request_id = headers.get("X-Request-Id", "")
        _, _, landing = self.request("review-list", QUEUE)  # shows (and consumes) the flash
        outcome = _OUTCOME.search(landing or "")
        if outcome is None:
            with self.lock:
                self.result.errors.append(f"execute {request_id}: no outcome message after the redirect")
            return
        with self.lock:
            self.result.executes.append(Execute(int(row_action.split(":")[1]), request_id, int(outcome.group(1))))

    def run(self, deadline: float) -> None:
        # Every group once first, however slow the machine, then the random mix.
        for choice in self.TOUR:
            self.browse(choice)
        self.review()
        while time.monotonic() < deadline:
            self.review() if self.rng.random() < 0.25 else self.browse()


def _check_audit(database_url: str, result: LoadResult) -> None:
    from sqlalchemy import create_engine, text

    from backoffice.core.settings import normalise_database_url

    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as conn:
            for execute in result.executes:
                rows = conn.execute(text(
                    "SELECT entity_type, entity_id FROM backoffice_audit_events WHERE request_id = :r"),
                    {"r": execute.request_id}).all()
                on_review = [r for r in rows if r.entity_type == "tmdb_match_reviews"
                             and r.entity_id == str(execute.review_id)]
                if execute.done and len(on_review) != 1:
                    result.audit_problems.append(
                        f"review {execute.review_id} decided by {execute.request_id}: {len(on_review)} audit events")
                if not execute.done and rows:
                    result.audit_problems.append(
                        f"review {execute.review_id} skipped by {execute.request_id}: {len(rows)} audit events")
    finally:
        engine.dispose()


def _seed_if_needed(database_url: str, movies: int, force: bool) -> None:
    from sqlalchemy import create_engine, inspect

    from backoffice.demo import seed_demo
    from backoffice.core.settings import normalise_database_url
    from models.own import init_db

    engine = create_engine(normalise_database_url(database_url))
    try:
        if force or "movies" not in inspect(engine).get_table_names():
            seed_demo(engine, movies=movies, seed=42)
        init_db(engine)
    finally:
        engine.dispose()


def _start_gunicorn(database_url: str, port: int, workdir: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPERATOR_", "BACKOFFICE_"))}
    env.update(DATABASE_URL=database_url, SECRET_KEY="loadtest-fixed-secret-key", LOG_LEVEL="WARNING",
               OPERATOR_AUTH_USERNAME=USER, OPERATOR_AUTH_PASSWORD=PASSWORD,
               OPERATOR_AUTH_RATE_LIMIT_MAX="1000000", BACKOFFICE_CONFIG=str(ROOT / "backoffice" / "demo" / "demo.toml"),
               PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
            "--timeout", "60", "--graceful-timeout", "20", "--no-control-socket", "--chdir", workdir, "wsgi:app"]
    log = Path(workdir) / "gunicorn.log"
    with log.open("w") as output:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=output, start_new_session=True)
    status = wait_until_serving(f"http://127.0.0.1:{port}/readyz", proc, log=log)
    if status != 200:
        stop_process(proc)
        raise RuntimeError(f"gunicorn answers /readyz with HTTP {status}: " + log.read_text()[-2000:])
    return proc


_WRK_SCRIPT = """
local paths = {"/admin/movies/", "/admin/movies/?page=3", "/admin/movies/?search=silent",
               "/admin/catalog-health/", "/healthz", "/readyz", "/admin/review-queue/", "/admin/people/"}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) n = 0; server_errors = 0 end
function request() n = n + 1; return wrk.format("GET", paths[(n % #paths) + 1]) end
function response(status, headers, body) if status >= 500 then server_errors = server_errors + 1 end end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("server_errors") end
  local e = summary.errors
  io.write(string.format("WRK requests=%d 5xx=%d socket_errors=%d p50=%.3f p95=%.3f p99=%.3f\\n",
    summary.requests, total, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def _start_wrk(base: str, connections: int, duration: float, workdir: str) -> subprocess.Popen:
    """wrk on the read-only screens (lists, search, catalog health, health endpoints)."""
    script = Path(workdir) / "loadtest.lua"
    script.write_text(_WRK_SCRIPT)
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    argv = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{max(1, int(duration))}s",
            "--timeout", "10s", "-s", str(script), "-H", f"Authorization: Basic {auth}", base]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish_wrk(proc: subprocess.Popen, connections: int, result: "LoadResult") -> None:
    output, _ = proc.communicate(timeout=120)
    match = re.search(r"WRK requests=(\d+) 5xx=(\d+) socket_errors=(\d+) p50=([\d.]+) p95=([\d.]+) p99=([\d.]+)",
                      output)
    if proc.returncode != 0 or match is None:
        result.errors.append(f"wrk failed: {output.strip()[-500:]}")
        return
    requests, server_errors, socket_errors = (int(match.group(i)) for i in (1, 2, 3))
    result.wrk = {"connections": connections, "requests": requests, "5xx": server_errors,
                  "socket_errors": socket_errors, "p50": float(match.group(4)), "p95": float(match.group(5)),
                  "p99": float(match.group(6))}
    if server_errors:
        result.statuses[500] += server_errors
        result.errors.append(f"wrk saw {server_errors} responses with a 5xx status")
    if socket_errors:
        result.errors.append(f"wrk saw {socket_errors} socket errors (connect, read, write or timeout)")


def wrk_available() -> bool:
    import shutil

    return shutil.which("wrk") is not None


def run_load(database_url: str | None = None, duration: float = 60.0, clients: int = 16,
             movies: int = 2000, seed: bool = False, rng_seed: int = 1,
             wrk_connections: int = 0) -> LoadResult:
    """Run the whole load test and return its :class:`LoadResult` (``.ok`` is the verdict).

    ``clients`` is the total concurrency: with ``wrk_connections`` > 0 that many of
    them are wrk connections on the read-only screens and the rest Python clients
    (which also drive the review actions, CSRF and signed tokens included)."""
    if not 0 <= wrk_connections < clients:
        raise ValueError("wrk_connections must leave at least one Python client")
    server = None
    if database_url is None:
        server = PostgresServer.start()  # says so when the binaries are missing
        database_url, seed = server.create_database("loadtest"), True
    workdir = tempfile.mkdtemp(prefix="backoffice-loadtest-")
    proc = None
    try:
        _seed_if_needed(database_url, movies, seed)
        port = free_port()
        proc = _start_gunicorn(database_url, port, workdir)
        result, lock = LoadResult(), threading.Lock()
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        wrk = _start_wrk(base, wrk_connections, duration, workdir) if wrk_connections else None
        threads = [threading.Thread(target=_Client(base, result, lock, random.Random(rng_seed + n)).run,
                                    args=(started + duration,), daemon=True)
                   for n in range(clients - wrk_connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(duration + 120)
        if wrk is not None:
            _finish_wrk(wrk, wrk_connections, result)
        result.duration = time.monotonic() - started
        _check_audit(database_url, result)
        return result
    finally:
        if proc is not None:
            stop_process(proc)
        if server is not None:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60, at most 600)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads (default 16, at most 64)")
    parser.add_argument("--movies", type=int, default=2000, help="demo catalog size when seeding")
    parser.add_argument("--seed", action="store_true", help="re-seed the demo catalog in DATABASE_URL")
    parser.add_argument("--wrk", type=int, default=None, metavar="N",
                        help="of the clients, N are wrk connections on the read-only screens "
                             "(default: half of them when wrk is installed, else 0)")
    args = parser.parse_args(argv)
    if not (0 < args.duration <= 600 and 0 < args.clients <= 64):
        parser.error("--duration must be in (0, 600] and --clients in [1, 64]")
    wrk_connections = args.wrk if args.wrk is not None else (args.clients // 2 if wrk_available() else 0)
    if wrk_connections and not wrk_available():
        parser.error("--wrk needs the wrk binary (apt-get install wrk)")
    if not 0 <= wrk_connections < args.clients:
        parser.error("--wrk must leave at least one Python client")
    result = run_load(os.environ.get("DATABASE_URL"), args.duration, args.clients, args.movies, args.seed,
                      wrk_connections=wrk_connections)
    print(result.report())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
