"""Threads kept free for the health checks, so blocked database work cannot starve them.

Under gunicorn's threaded workers (``console/gunicorn_conf.py``) each worker runs
``threads`` requests at once. If every thread waits on a database that stopped
answering, ``/healthz`` waits behind them and the orchestrator restarts a process
that was fine. So a worker runs at most ``threads - RESERVED_THREADS`` other
requests at a time; one more waits at most :data:`SLOT_WAIT_S` for one of them to
finish (a burst of ordinary requests), then gets a 503 ("busy", with ``Retry-After``)
and frees its thread, so the health checks never wait long for a thread. Outside gunicorn (tests, the development server) there is no cap unless
:func:`configure` sets one.
"""
from __future__ import annotations

import threading

from flask import Flask, g, request

from .errors import error_response
from .health import PUBLIC_ENDPOINTS

__all__ = ["init_app", "configure", "RESERVED_THREADS", "SLOT_WAIT_S"]

#: Threads of each worker kept for the health checks.
RESERVED_THREADS = 2
#: How long a request waits for a slot before it is answered "busy" (well under a second,
#: so a health check queued behind it is still answered within one).
SLOT_WAIT_S = 0.3

_state: dict = {"slots": None}


def configure(threads: int | None) -> None:
    """Cap this process at ``threads - RESERVED_THREADS`` concurrent requests (None: no cap)."""
    slots = threads - RESERVED_THREADS if threads and threads > RESERVED_THREADS else None
    _state["slots"] = threading.BoundedSemaphore(slots) if slots else None


def init_app(app: Flask) -> None:
    @app.before_request
    def _admit():
        slots = _state["slots"]
        if slots is None or request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if slots.acquire(timeout=SLOT_WAIT_S):
            g.backoffice_slot = slots
            return None
        response = error_response(
            503, "The console is busy",
            "Every request slot of this worker is in use by other requests, so this one was not started "
            "and nothing was done. Try again in a few seconds.")
        body, status = response if isinstance(response, tuple) else (response, 503)
        return body, status, {"Retry-After": "5"}

    @app.teardown_request
    def _release(_exc) -> None:
        slots = g.pop("backoffice_slot", None)
        if slots is not None:
            slots.release()
