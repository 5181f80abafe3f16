"""The serving promises under database faults, through real gunicorn and real PostgreSQL:
connections killed mid-request, and a server that stops answering (SIGSTOP)."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backoffice.web.security import SECURE_HEADERS

from tests.gunicorn_server import Gunicorn
from tests.pg import PostgresServer, seeded_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
BARE_500 = b"<h1><p>Internal Server Error</p></h1>"
PAGES = ["/admin/movies/?page_size=50", "/admin/people/", "/admin/movie_credits/", "/admin/genres/"]


@pytest.fixture(scope="module")
def own_pg():
    """A cluster of this module's own: these tests stop its processes."""
    yield from seeded_cluster("serving", movies=500, seed=7)


def _cluster_pids(server: PostgresServer) -> list[int]:
    postmaster = int((Path(server.root) / "data" / "postmaster.pid").read_text().split()[0])
    children = os.popen(f"pgrep -P {postmaster}").read().split()
    return [postmaster, *map(int, children)]


def _request_log_ids(log: str) -> set[str]:
    ids = set()
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "backoffice.request" and entry.get("request_id"):
                ids.add(entry["request_id"])
    return ids


def _check_envelope(reply) -> list[str]:
    missing = [name for name in (*SECURE_HEADERS, "X-Request-Id") if name.lower() not in reply.headers]
    if BARE_500 in reply.body:
        missing.append("bare gunicorn 500")
    return missing


def test_killing_backends_mid_request_never_gives_a_bare_500(own_pg, tmp_path):
    server, url = own_pg
    console = Gunicorn.start({"DATABASE_URL": url, "SECRET_KEY": "k", "LOG_LEVEL": "INFO"}, cwd=tmp_path, workers=2)
    stop = threading.Event()
    kills = []

    def killer():
        while not stop.is_set():
            try:
                server.admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE application_name = 'backoffice' AND pid <> pg_backend_pid()")
                kills.append(1)
            except Exception:
                pass
            time.sleep(0.3)

    thread = threading.Thread(target=killer, daemon=True)
    try:
        thread.start()
        replies = []
        deadline = time.monotonic() + 180
        with ThreadPoolExecutor(4) as pool:
            # At least 400 requests and at least 25 kill rounds among them, whichever takes
            # longer: on a fast machine 400 requests finish before the killer has run enough.
            while (len(replies) < 400 or len(kills) < 25) and time.monotonic() < deadline:
                replies += pool.map(console.get, [PAGES[i % len(PAGES)] for i in range(40)])
    finally:
        stop.set()
        thread.join(5)
        console.stop()
    by_status: dict[int, int] = {}
    for reply in replies:
        by_status[reply.status] = by_status.get(reply.status, 0) + 1
    problems = [(r.status, p) for r in replies if (p := _check_envelope(r))]
    print(f"\n{len(kills)} kill rounds; statuses {by_status}")
    assert len(kills) > 20
    assert not problems, problems[:5]
    assert set(by_status) <= {200, 503}, by_status
    assert by_status.get(200, 0) > 0.75 * len(replies)  # a read whose connection died was retried, mostly successfully
    logged = _request_log_ids(console.log())
    assert {r.headers["x-request-id"] for r in replies} <= logged  # one log line for every response


def test_a_server_that_stops_answering_never_hangs_the_console(own_pg, tmp_path):
    server, url = own_pg
    console = Gunicorn.start({"DATABASE_URL": url, "SECRET_KEY": "k", "LOG_LEVEL": "INFO",
                              "STATEMENT_TIMEOUT_MS": "2000"}, cwd=tmp_path, workers=2)
    try:
        for path in PAGES * 3:  # pooled connections in both workers
            assert console.get(path).status == 200
        workers_before = sorted(console.worker_pids())
        assert len(workers_before) == 2
        pids = _cluster_pids(server)  # the postmaster and every backend, the console's included
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(20) as pool:
                # More hung page requests than both workers have threads for pages.
                pages = [pool.submit(console.get, PAGES[i % len(PAGES)], None, 30) for i in range(16)]
                time.sleep(0.5)
                health = [console.get("/healthz", timeout=10) for _ in range(5)]
                health_done_while_pages_hang = sum(not p.done() for p in pages)
                ready = console.get("/readyz", timeout=10)
                answers = [p.result() for p in pages]
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        after = [console.get(path) for path in PAGES]
        workers_after = sorted(console.worker_pids())
    finally:
        console.stop()
    print(f"\nhealthz seconds {[round(h.seconds, 3) for h in health]}; readyz {ready.status} in "
          f"{ready.seconds:.2f} s; pages {sorted((a.status, round(a.seconds, 1)) for a in answers)}")
    assert [h.status for h in health] == [200] * 5
    assert health_done_while_pages_hang > 0  # liveness was answered while page requests still hung
    assert ready.status == 503 and json.loads(ready.body)["status"] == "unavailable"
    assert {a.status for a in answers} == {503}  # every hung page answered, none by a killed worker
    assert not [a for a in answers if _check_envelope(a)]
    assert [a.status for a in after] == [200] * len(PAGES)  # the console recovers on its own
    assert workers_after == workers_before  # no worker was killed for waiting
    assert "WORKER TIMEOUT" not in console.log()
