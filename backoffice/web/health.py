"""Liveness and readiness endpoints; no auth, never a stack trace."""
from __future__ import annotations

import logging

from pathlib import Path

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import literal, select, text

from models.own import audit_events

__all__ = ["init_app", "PUBLIC_ENDPOINTS"]

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
#: Endpoints served without operator credentials.
PUBLIC_ENDPOINTS = frozenset({"health.healthz", "health.readyz"})
#: The server-side bound of the readiness query; the whole check (connecting included) is
#: bounded on the client side by READY_DEADLINE_S, so /readyz answers within about 2 s.
READY_TIMEOUT_MS = 1500
READY_DEADLINE_S = 2.0


@bp.get("/healthz")
def healthz():
    """The process is up. Touches nothing else."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database answers within a short timeout: ``SELECT 1`` and, on SQLite, a read
    of the console's audit table through a fresh connection to the file."""
    db = current_app.extensions["backoffice.db"]
    limit = current_app.extensions.get("backoffice.limit_request")
    if limit is not None:
        limit(READY_DEADLINE_S)
    path = _sqlite_file(db.engine)
    if path is not None and not path.is_file():
        # Connecting would create an empty file in its place and answer "ready".
        log.warning("readiness check failed: the SQLite file is gone")
        return jsonify(status="unavailable", reason=f"the database file {path.name} does not exist"), 503
    try:
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL statement_timeout = {READY_TIMEOUT_MS}"))
            if path is not None:
                # SQLite answers SELECT 1 without reading the file, and a pooled connection
                # keeps reading a file that was replaced or removed: open the file anew and
                # read a table of the console's (its schema, then a page of its rows).
                conn.invalidate()
            conn.execute(text("SELECT 1"))
            if conn.dialect.name == "sqlite":
                conn.execute(select(literal(1)).select_from(audit_events).limit(1))
    except Exception as exc:  # any failure means "not ready", reported as such
        log.warning("readiness check failed: %s", exc.__class__.__name__)
        return jsonify(status="unavailable",
                       reason=f"the database did not answer within {READY_DEADLINE_S:.0f} s "
                              f"({exc.__class__.__name__})"), 503
    return jsonify(status="ok", database="ok")


def _sqlite_file(engine) -> Path | None:
    """The file of a SQLite database on disk (None for PostgreSQL and in-memory SQLite)."""
    if engine.dialect.name != "sqlite":
        return None
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:") or engine.url.query.get("mode") == "memory":
        return None
    return Path(name)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
