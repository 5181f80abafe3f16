"""gunicorn settings: build the app once in the master, fork threaded workers from it.

``gunicorn -c python:console.gunicorn_conf wsgi:app`` (the container's command,
and how ``backoffice bench`` serves every app it compares). With the app preloaded,
reflection runs once instead of once per worker, and the workers share the
master's memory pages for everything imported and built at start-up: a worker's
own (private) memory is what its requests allocate. Two things make that hold:

- the database connections the master opened while reflecting are closed before
  each fork, so no two processes ever talk over the same socket (every worker opens
  its own connections on first use);
- ``gc.freeze()`` moves every start-up object into the collector's permanent
  generation, so the workers' garbage collections do not write to (and thereby
  copy) the shared pages that hold them.

After each request a worker gives back what the request left behind (``post_request``):
a young-generation collection frees the page's objects that sit in reference cycles
(Jinja's render contexts and macros hold the page's rows), then ``malloc_trim``
returns the free pages inside the C heap (the page's text, its bytes, result
buffers) to the system. Without it a worker carries the garbage of its last request
into the next one and keeps the freed pages resident: about 3.5 MB of RSS per worker
on the demo catalog, for well under a millisecond per request (``backoffice bench``
measures both).

Start-up on a big schema (docs/performance.md): table screens are built when first used
(``views/lazy.py``). :func:`when_ready` runs in the master once the app is loaded and
before the first fork: it configures the mappers of the whole schema (otherwise the first
request to any table screen pays it, in every worker) and builds the screens that carry a
custom class or declared options, so an error in one stops the server before it serves.
Without ``preload_app`` each worker does the same in :func:`post_worker_init`.

Serving under faults (docs/serving.md):

- ``gthread`` workers with :data:`threads` threads. A worker's main loop keeps
  telling the master it is alive while its threads wait, so no worker is killed for
  waiting on a database; every database wait is bounded anyway
  (``backoffice/web/dbguard.py``), far below :data:`timeout`. Each worker keeps
  ``RESERVED_THREADS`` threads for ``/healthz`` and ``/readyz``
  (``backoffice/web/capacity.py``, configured in :func:`post_fork` from the actual
  thread count, so ``--threads`` on the command line is honoured).
- ``forwarded_allow_ips`` is empty: gunicorn itself never believes
  ``X-Forwarded-Proto`` / ``X-Forwarded-For`` (by default it believes them from
  127.0.0.1, so any local client could claim HTTPS). The app trusts exactly
  ``TRUSTED_PROXY_COUNT`` proxies through werkzeug's ProxyFix.
"""
from __future__ import annotations

import ctypes
import gc
import os
import shutil
import tempfile
import time

from backoffice.web import capacity
from views import lazy

__all__ = ["preload_app", "worker_class", "threads", "timeout", "graceful_timeout", "forwarded_allow_ips",
           "when_ready", "post_worker_init", "pre_fork", "post_fork", "post_request", "close_database_connections", "raw_env", "child_exit",
           "on_exit"]

preload_app = True
worker_class = "gthread"
threads = 8
timeout = 60
graceful_timeout = 30
forwarded_allow_ips = ""


def close_database_connections(app) -> None:
    """Close the pooled connections of every Flask-SQLAlchemy engine of ``app``."""
    extension = getattr(app, "extensions", {}).get("sqlalchemy")
    if extension is None:
        return
    with app.app_context():
        for engine in extension.engines.values():
            engine.dispose()


def when_ready(server) -> None:  # gunicorn hook, runs in the master before the first fork
    if server.cfg.preload_app:
        started = time.perf_counter()
        built = lazy.warm_up(server.app.wsgi())
        server.log.info("mappers configured, %d declared or custom screens built in %.2f s",
                        built, time.perf_counter() - started)


def post_worker_init(worker) -> None:  # gunicorn hook, runs in each worker once its app is loaded
    if not worker.cfg.preload_app:
        lazy.warm_up(worker.wsgi)


def pre_fork(server, worker) -> None:  # gunicorn hook, runs in the master before each fork
    close_database_connections(server.app.wsgi())
    gc.freeze()


def post_fork(server, worker) -> None:  # gunicorn hook, runs in each new worker
    capacity.configure(worker.cfg.threads)


def _malloc_trim():
    # glibc only (musl and macOS have no malloc_trim): elsewhere the collection alone runs.
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)  # the C library the interpreter runs on
    except OSError:
        return None


_trim = _malloc_trim()


def post_request(worker, req, environ, resp) -> None:  # gunicorn hook, runs in the worker after each response
    gc.collect(1)
    if _trim is not None:
        _trim(0)


# -- Prometheus multi-process mode (backoffice/metrics) ---------------------------------
# prometheus_client chooses between in-memory values and per-process files when it is
# first imported, which under gunicorn happens when the master loads the app: after
# gunicorn has put ``raw_env`` into the environment. Each server start gets a directory
# of its own (master pid and start time), so two servers on one machine never mix their
# figures and a restart never resumes old ones. Only the name is made here; the app
# creates the directory (backoffice/metrics) and ``on_exit`` removes it.
_METRICS_PREFIX = "backoffice-metrics-"
raw_env = [f"PROMETHEUS_MULTIPROC_DIR="
           f"{os.path.join(tempfile.gettempdir(), f'{_METRICS_PREFIX}{os.getpid()}-{time.time_ns()}')}"]


def _metrics_directory(server) -> str | None:
    return server.cfg.env.get("PROMETHEUS_MULTIPROC_DIR") if server.cfg.env else None


def child_exit(server, worker) -> None:  # gunicorn hook, runs in the master when a worker exits
    path = _metrics_directory(server)
    if path:
        from prometheus_client import multiprocess  # imported after the environment names the directory

        multiprocess.mark_process_dead(worker.pid, path)  # its live gauges go; its counters stay in the sums


def on_exit(server) -> None:  # gunicorn hook, runs in the master as the server stops
    path = _metrics_directory(server)
    if path and os.path.basename(path).startswith(_METRICS_PREFIX):
        shutil.rmtree(path, ignore_errors=True)
