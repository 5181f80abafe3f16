"""A read replica for heavy read-only work (``DATABASE_REPLICA_URL``).

Catalog health (figures, detail pages, CSV exports) and the queue counts of
``/metrics`` read through :meth:`ReadRouter.engine_for_reads`; the generated screens'
CSV exports and the list pages (rows and count) of large tables through
:mod:`backoffice.replica.heavy`; every write, every
screen that edits, and every read that must see the operator's own last write stay
on the primary:

* the replica is skipped when it does not answer (then for a few seconds), is not a
  standby, or lags more than ``DATABASE_REPLICA_MAX_LAG_SECONDS``;
* after a request that may have written (any successful POST), the primary's WAL
  position is kept in the operator's signed session cookie; the replica serves that
  operator again only once it has replayed that position. Instances stay stateless:
  the position travels with the browser, whichever instance answers.
"""
from __future__ import annotations

from flask import Flask, has_request_context, request, session
from sqlalchemy import Engine

from backoffice.core.engine import create_engine, engine_options
from backoffice.core.settings import Settings
from backoffice.replica.heavy import read_heavy, routed_query
from backoffice.replica.router import DOWN_RETRY_SECONDS, EXTENSION, ReadRouter, Route, lsn_number

__all__ = ["ReadRouter", "Route", "init_app", "replica_engine", "read_router", "lsn_number",
           "DOWN_RETRY_SECONDS", "WROTE_LSN_KEY", "read_heavy", "routed_query"]

#: Session key of the primary's WAL position after this browser's last write.
WROTE_LSN_KEY = "backoffice_wrote_lsn"
_UNKNOWN_POSITION = "FFFFFFFF/FFFFFFFF"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def replica_engine(settings: Settings) -> Engine | None:
    """The replica's engine (the console's options, read-only sessions), or None when unset."""
    url = settings.database_replica_url
    if not url:
        return None
    options = engine_options(url, settings)
    connect_args = dict(options.get("connect_args", {}))
    connect_args["connect_timeout"] = 2  # a dead replica must cost little: the primary is right there
    connect_args["options"] = (connect_args.get("options", "").replace("application_name=backoffice",
                                                                          "application_name=backoffice-replica")
                               + " -c default_transaction_read_only=on")
    return create_engine(settings, url=url, connect_args=connect_args)


def _session_position() -> str | None:
    return session.get(WROTE_LSN_KEY) if has_request_context() else None


def init_app(app: Flask, primary: Engine, settings: Settings) -> ReadRouter:
    """Attach the router; with a replica, remember each browser's last write position."""
    router = ReadRouter(primary, replica_engine(settings), settings.database_replica_max_lag_seconds,
                        position=_session_position, min_rows=settings.database_replica_min_rows)
    app.extensions[EXTENSION] = router
    if router.replica is None:
        return router

    @app.after_request
    def _remember_write_position(response):
        if request.method in _WRITE_METHODS and response.status_code < 400 and primary.dialect.name == "postgresql":
            try:
                with primary.connect() as conn:
                    # The insert position, not the written one: with synchronous_commit=off a
                    # commit record can still sit in the WAL buffers, past pg_current_wal_lsn().
                    session[WROTE_LSN_KEY] = conn.exec_driver_sql(
                        "SELECT pg_current_wal_insert_lsn()::text").scalar()
            except Exception:  # the write is done; without its position, stay on the primary
                session[WROTE_LSN_KEY] = _UNKNOWN_POSITION  # until a later write records a real one
        return response

    return router


def read_router(app: Flask) -> ReadRouter | None:
    return app.extensions.get(EXTENSION)
