"""Threads kept free for the health checks, so blocked database work cannot starve them.

Under gunicorn's threaded workers (``console/gunicorn_conf.py``) each worker runs
``threads`` requests at once. If every thread waits on a database that stopped
answering, ``/healthz`` waits behind them and the orchestrator restarts a process
that was fine. So a worker admits at most ``threads - RESERVED_THREADS`` other
requests at a time; one more gets an immediate 503 ("busy", with ``Retry-After``)
instead of a thread, and the reserved threads always remain for ``/healthz`` and
``/readyz``. Outside gunicorn (tests, the development server) there is no cap unless
:func:`configure` sets one.
"""
from __future__ import annotations

import threading

from flask import Flask, g, request

from .errors import error_response
from .health import PUBLIC_ENDPOINTS

__all__ = ["init_app", "configure", "RESERVED_THREADS"]

#: Threads of each worker kept for the health checks.
RESERVED_THREADS = 2

_lock = threading.Lock()
_state = {"slots": None, "busy": 0}


def configure(threads: int | None) -> None:
    """Cap this process at ``threads - RESERVED_THREADS`` concurrent requests (None: no cap)."""
    with _lock:
        _state["slots"] = max(1, threads - RESERVED_THREADS) if threads and threads > RESERVED_THREADS else None


def init_app(app: Flask) -> None:
    @app.before_request
    def _admit():
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        with _lock:
            slots = _state["slots"]
            if slots is not None and _state["busy"] >= slots:
                full = True
            else:
                full = False
                _state["busy"] += 1
                g.backoffice_slot = True
        if full:
            response = error_response(
                503, "The console is busy",
                "Every request slot of this worker is in use by other requests, so this one was not started "
                "and nothing was done. Try again in a few seconds.")
            body, status = response if isinstance(response, tuple) else (response, 503)
            return body, status, {"Retry-After": "5"}
        return None

    @app.teardown_request
    def _release(_exc) -> None:
        if g.pop("backoffice_slot", False):
            with _lock:
                _state["busy"] -= 1
