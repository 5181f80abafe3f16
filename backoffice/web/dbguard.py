"""Database faults during a request: bounded waits, one retry for reads, a safe teardown.

* **Deadline.** PostgreSQL's ``statement_timeout`` is enforced by the server, so a
  server that stops answering (a stopped process, a dead host behind an open socket)
  never fires it, and ``cancel()`` needs that same server. Each request therefore
  gets a client-side deadline (``STATEMENT_TIMEOUT_MS`` plus :data:`MARGIN_S`; a
  shorter one for ``/readyz``): every connection the request checks out is
  registered with a watchdog thread which, once the deadline passes, shuts the
  connection's socket down. The blocked call returns at once with a disconnect
  error, which answers 503 (the connection is discarded, never reused).
* **Ping on checkout.** A pooled connection whose socket received anything while it
  sat idle (a terminated backend's notice, the end of stream of a restarted server) is
  pinged when checked out (what SQLAlchemy's ``pool_pre_ping`` does), after it is
  registered, so a ping to a hung server is bounded by the deadline too; a dead
  connection is replaced. A silent socket is used without a round trip: a server that
  vanished without closing it fails the first statement at the deadline (503).
* **One retry.** A GET or HEAD whose connection died (a terminated backend, a
  restarted server) runs its view once more on a fresh connection; a second failure,
  or any failure of a write, answers the console's 503 page.
* **Teardown.** Discarding the request's session rolls back on its connection; on a
  dead socket that raises, after the response was built. It is caught and logged
  here, so the response goes out as it was.
"""
from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time

from flask import Flask, g, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from werkzeug.exceptions import HTTPException

from . import errors
from backoffice.core.engine import CONNECT_TIMEOUT_S
from backoffice.core.settings import Settings

__all__ = ["init_app", "shut_down_socket", "Watchdog", "MARGIN_S", "DeadlineExceeded"]

log = logging.getLogger(__name__)
#: Past the statement timeout, how long a query may still take before the server counts as hung.
MARGIN_S = 1.0
_POLL_S = 0.05


class DeadlineExceeded(OperationalError):
    """The request's deadline passed before a database connection could be used."""

    def __init__(self, seconds: float):
        super().__init__(None, None, TimeoutError(f"no usable database connection within {seconds:.1f} s"),
                         connection_invalidated=True)


class _Request:
    __slots__ = ("deadline", "seconds", "connections", "fired")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.connections: set = set()
        self.fired = False


class Watchdog:
    """Shuts down the sockets of a request's connections once its deadline passes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._requests: dict[int, _Request] = {}
        self._local = threading.local()
        self._pid = None

    # -- the request side ----------------------------------------------------------
    def begin(self, seconds: float) -> None:
        self._ensure_thread()
        current = _Request(seconds)
        self._local.request = current
        with self._lock:
            self._requests[id(current)] = current

    def limit(self, seconds: float) -> None:
        """Shorten the current request's deadline to ``seconds`` from now."""
        current = getattr(self._local, "request", None)
        if current is None:
            self.begin(seconds)
            return
        with self._lock:
            current.deadline = min(current.deadline, time.monotonic() + seconds)
            current.seconds = seconds

    def end(self) -> None:
        current = getattr(self._local, "request", None)
        self._local.request = None
        if current is not None:
            with self._lock:
                self._requests.pop(id(current), None)

    def remaining(self) -> float | None:
        """Seconds left before the current request's deadline (None: no deadline)."""
        current = getattr(self._local, "request", None)
        if current is None:
            return None
        return 0.0 if current.fired else max(0.0, current.deadline - time.monotonic())

    def expired(self) -> _Request | None:
        current = getattr(self._local, "request", None)
        return current if current is not None and (current.fired or time.monotonic() >= current.deadline) else None

    # -- the pool side -----------------------------------------------------------------
    def attach(self, dbapi_connection) -> None:
        current = getattr(self._local, "request", None)
        if current is not None:
            with self._lock:
                current.connections.add(dbapi_connection)

    def detach(self, dbapi_connection) -> None:
        with self._lock:  # under the lock: the watchdog never cuts a connection already handed on
            for current in self._requests.values():
                current.connections.discard(dbapi_connection)

    # -- the watchdog thread --------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():  # first request of this process (gunicorn forks after start-up)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="backoffice-db-deadline", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(_POLL_S)
            now = time.monotonic()
            with self._lock:
                for current in self._requests.values():
                    if not current.fired and now >= current.deadline and current.connections:
                        current.fired = True
                        for connection in list(current.connections):
                            shut_down_socket(connection)
                        log.error("database did not answer within %.1f s: closed the request's connection(s)",
                                  current.seconds)


def shut_down_socket(dbapi_connection) -> None:
    """Shut the socket down under the blocked driver call: it returns with a disconnect error."""
    try:
        duplicate = socket.socket(fileno=os.dup(dbapi_connection.fileno()))
    except Exception:  # already closed
        return
    try:
        duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        duplicate.close()


def _discard_session(db: SQLAlchemy) -> None:
    try:
        db.session.remove()
    except Exception as exc:  # a rollback on a dead socket: the connection is gone anyway
        log.warning("discarding the request's database session failed (%s); its connection is dropped",
                    exc.__class__.__name__, extra={"request_id": g.get("request_id")})
        db.session.registry.clear()


def _watch_engine(engine, watchdog: Watchdog) -> None:
    @event.listens_for(engine, "connect")
    def _fresh(dbapi_connection, record):
        record.info["backoffice_fresh"] = True

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, proxy):
        expired = watchdog.expired()
        if expired is not None:
            raise DeadlineExceeded(expired.seconds)
        watchdog.attach(dbapi_connection)
        if record.info.pop("backoffice_fresh", False) or _silent(dbapi_connection):
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as exc:  # the connection is dead: the pool replaces it
            watchdog.detach(dbapi_connection)
            expired = watchdog.expired()
            if expired is not None:
                raise DeadlineExceeded(expired.seconds) from exc
            raise DisconnectionError(str(exc)) from exc

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, record):
        if dbapi_connection is not None:
            watchdog.detach(dbapi_connection)


def _silent(dbapi_connection) -> bool:
    """Nothing arrived on an idle pooled connection's socket. A server that ended the
    session (a terminated backend, a restart, a closed socket) has written its notice or
    its end of stream there; a silent socket needs no round trip to be trusted."""
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError):  # closed already
        return False
    return not readable


def init_app(app: Flask, db: SQLAlchemy, settings: Settings) -> None:
    """Call after the database and the error pages are set up (this owns DBAPIError answers)."""
    with app.app_context():
        engine = db.engine
    seconds = settings.statement_timeout_ms / 1000 + MARGIN_S if settings.statement_timeout_ms else None
    watchdog = Watchdog()
    if engine.dialect.name == "postgresql":
        _watch_engine(engine, watchdog)
        app.extensions["backoffice.watchdog"] = watchdog
        app.extensions["backoffice.limit_request"] = watchdog.limit

        @app.before_request
        def _deadline() -> None:
            if seconds is not None:
                watchdog.begin(seconds)

    # Registered after Flask-SQLAlchemy's own teardown, so this runs first and leaves it nothing to fail on.
    @app.teardown_appcontext
    def _teardown(_exc) -> None:
        try:
            _discard_session(db)
        finally:
            watchdog.end()

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        remaining = watchdog.remaining()
        # Retry only when a fresh connection could still be made in time (connecting is bounded
        # by connect_timeout, not by the watchdog, which only sees connections in use).
        if (errors.is_unreachable(exc) and request.method in ("GET", "HEAD") and request.endpoint
                and not g.get("backoffice_db_retried") and (remaining is None or remaining > CONNECT_TIMEOUT_S)):
            g.backoffice_db_retried = True
            _discard_session(db)
            log.warning("database connection lost during a read (%s); retrying once on a fresh connection",
                        exc.orig.__class__.__name__ if exc.orig is not None else exc.__class__.__name__,
                        extra={"request_id": g.get("request_id")})
            try:
                view = app.view_functions[request.endpoint]
                return app.ensure_sync(view)(**(request.view_args or {}))
            except DBAPIError as again:
                _discard_session(db)
                return errors.database_error_response(again)
            except HTTPException as refused:
                return app.handle_http_exception(refused)
        return errors.database_error_response(exc)
