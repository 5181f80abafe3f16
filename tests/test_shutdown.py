"""Graceful shutdown: gunicorn's SIGTERM lets an in-flight request finish."""
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from backoffice.core.settings import normalise_database_url

from testing_support import free_port, wait_until_serving
from tests.test_cli_and_serving import _env

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # a gunicorn process
def test_sigterm_lets_in_flight_requests_finish(pg_server, pg_demo_url):
    engine = create_engine(normalise_database_url(pg_demo_url))
    with engine.begin() as conn:
        # A view that takes about a second per query: the in-flight request.
        conn.execute(text("CREATE VIEW slow_report AS SELECT 1 AS id, pg_sleep(0.8)::text AS slept"))
    port = free_port()
    command = re.search(r'exec (gunicorn [^"]+)', (ROOT / "Dockerfile").read_text()).group(1)
    argv = [sys.executable, "-m", *command.replace("${PORT}", str(port)).replace("0.0.0.0", "127.0.0.1").split()]
    proc = subprocess.Popen(argv, cwd=ROOT, env=_env(DATABASE_URL=pg_demo_url, SECRET_KEY="k", LOG_LEVEL="ERROR"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    result = {}
    try:
        assert wait_until_serving(f"http://127.0.0.1:{port}/readyz", proc) == 200

        def slow_request():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/slow_report/", timeout=30) as response:
                    result["status"], result["body"] = response.status, response.read().decode()
            except Exception as exc:  # recorded and asserted below
                result["error"] = repr(exc)

        worker = threading.Thread(target=slow_request)
        worker.start()
        time.sleep(0.4)  # the request is now inside the worker, waiting on the database
        proc.send_signal(signal.SIGTERM)  # to the gunicorn master, as a container stop does
        worker.join(30)
        proc.wait(timeout=40)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert result.get("status") == 200, result
    assert "slow_report" in result["body"]
    assert proc.returncode == 0
    with engine.connect() as conn:
        leftovers = conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'")).scalar()
    engine.dispose()
    assert leftovers == 0
