"""Liveness and readiness endpoints; no auth, never a stack trace."""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

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
    """The database answers ``SELECT 1`` within a short timeout."""
    db = current_app.extensions["backoffice.db"]
    limit = current_app.extensions.get("backoffice.limit_request")
    if limit is not None:
        limit(READY_DEADLINE_S)
    try:
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL statement_timeout = {READY_TIMEOUT_MS}"))
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready", reported as such
        log.warning("readiness check failed: %s", exc.__class__.__name__)
        return jsonify(status="unavailable",
                       reason=f"the database did not answer SELECT 1 within {READY_DEADLINE_S:.0f} s "
                              f"({exc.__class__.__name__})"), 503
    return jsonify(status="ok", database="ok")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
