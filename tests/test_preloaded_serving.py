"""gunicorn with ``console.gunicorn_conf``: the app built once in the master, two
workers forked from it, each with its own database connections; the benchmark's
review apply (confirm + execute with CSRF and the signed token) goes through it."""
import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from benchmarks.review import applicable_reviews, applied_count, measure_review_apply
from console.gunicorn_conf import close_database_connections
from backoffice.core.settings import normalise_database_url
from testing_support import free_port, stop_process, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


@pytest.mark.slow  # a gunicorn process
@pytest.mark.postgres
def test_preloaded_workers_serve_lists_and_review_applies(pg_demo_url):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "OPERATOR_", "PORT"))}
    env.update(DATABASE_URL=pg_demo_url, SECRET_KEY="k", LOG_LEVEL="WARNING")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:console.gunicorn_conf", "-w", "2",
         "--no-control-socket", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_serving(base + "/healthz", proc) == 200
        # Concurrent requests land on both workers at once: a connection inherited from
        # the master would be shared by both and garble their answers.
        urls = [base + f"/admin/movies/?page_size=20&page={i % 5}" for i in range(40)]
        # Six at a time: each worker serves at most threads - RESERVED_THREADS (6) requests at
        # once and answers "busy" (503) past that (backoffice/web/capacity.py); with more,
        # a burst landing on one worker while the other still boots is refused by design.
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(_get, urls))
        assert all(status == 200 and b"action-checkbox" in body for status, body in answers)

        engine = create_engine(normalise_database_url(pg_demo_url))
        try:
            ids = applicable_reviews(engine, 3)
            assert len(ids) == 3 and applied_count(engine, ids) == 0
            median, p95, unexpected = measure_review_apply(base, ids, warmup=1)
            assert unexpected == 0 and median > 0 and p95 > 0
            assert applied_count(engine, ids) == 3
        finally:
            engine.dispose()
    finally:
        returncode = stop_process(proc)
    assert returncode == 0, proc.stderr.read().decode()[-2000:]


def test_close_database_connections_empties_the_pool(app):
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
        with engine.connect():
            pass
        assert engine.pool.checkedin() >= 1
    close_database_connections(app)
    with app.app_context():
        assert app.extensions["sqlalchemy"].engine.pool.checkedin() == 0


def test_after_each_response_the_worker_frees_what_the_request_left_in_cycles():
    import gc
    import platform
    import weakref

    from console import gunicorn_conf

    class Page:
        pass

    was_enabled = gc.isenabled()
    gc.disable()  # only the hook may collect here
    try:
        page = Page()
        page.context = {"page": page}  # a render context that refers back to its page
        left_behind = weakref.ref(page)
        del page
        assert left_behind() is not None  # reference counting alone cannot free a cycle
        gunicorn_conf.post_request(None, None, {}, None)
        assert left_behind() is None
    finally:
        if was_enabled:
            gc.enable()
    if platform.libc_ver()[0] == "glibc":
        assert gunicorn_conf._trim is not None  # the C heap's free pages go back to the system too
