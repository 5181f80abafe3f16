"""Start without the database, serve 503s, and switch over when it answers.

When the database cannot be reached at start-up, :func:`standby_app` is served
instead of the console: ``/healthz`` answers 200 (the process is alive),
``/readyz`` and every other path answer 503 with a clear message. On requests,
at most every :data:`RETRY_SECONDS`, it tries to build the real console again;
once that succeeds every request goes to it. No restart is needed.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask, jsonify

from . import envelope, errors, requestlog
from backoffice.core.settings import Settings

__all__ = ["standby_app", "RETRY_SECONDS"]

log = logging.getLogger(__name__)
RETRY_SECONDS = 2.0


class _SwitchOver:
    """WSGI middleware: the standby app until ``build()`` succeeds, then the console."""

    def __init__(self, standby_wsgi, build: Callable[[], Flask]):
        self._standby_wsgi = standby_wsgi
        self._build = build
        self._console: Flask | None = None
        self._lock = threading.Lock()
        self._next_attempt = 0.0

    def __call__(self, environ, start_response):
        console = self._console or self._try_build(environ.get("PATH_INFO", ""))
        if console is not None:
            return console.wsgi_app(environ, start_response)
        return self._standby_wsgi(environ, start_response)

    def _try_build(self, path: str) -> Flask | None:
        if path == "/healthz" or time.monotonic() < self._next_attempt:
            return None
        if not self._lock.acquire(blocking=False):
            return None  # another thread is already trying
        try:
            if self._console is None:
                self._next_attempt = time.monotonic() + RETRY_SECONDS
                try:
                    self._console = self._build()
                    log.warning("database reachable again: the console is now serving")
                except Exception as exc:  # still down (or another start-up error): keep waiting
                    log.warning("database still unavailable: %s", exc.__class__.__name__)
            return self._console
        finally:
            self._lock.release()


def standby_app(settings: Settings, build: Callable[[], Flask], reason: BaseException) -> Flask:
    """The app served while the database is unreachable at start-up."""
    app = Flask("backoffice")
    app.config.update(SECRET_KEY=settings.secret_key, BACKOFFICE_SETTINGS=settings)
    requestlog.init_app(app, settings)
    errors.init_app(app)
    log.error("database unavailable at start-up (%s); serving 503 and retrying every %.0f s",
              reason.__class__.__name__, RETRY_SECONDS)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        return jsonify(status="unavailable", reason="database did not answer at start-up; retrying"), 503

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unavailable(path):
        return errors.error_response(
            503, "Database unavailable",
            "The console cannot reach its database yet. It retries on its own; reload in a few seconds.")

    app.wsgi_app = _SwitchOver(app.wsgi_app, build)  # type: ignore[method-assign]
    envelope.wrap(app)
    return app
