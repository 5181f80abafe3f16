"""Honest errors: a clear page (or JSON), a request id, never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

__all__ = ["init_app", "error_response", "is_statement_timeout"]

log = logging.getLogger(__name__)


def is_statement_timeout(exc: BaseException) -> bool:
    """True for PostgreSQL's ``statement_timeout`` cancellation (SQLSTATE 57014)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "pgcode", None) == "57014"


def _unreachable(exc: DBAPIError) -> bool:
    """The database could not be reached or dropped the connection (as opposed to
    answering with an error about the request itself)."""
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "pgcode", None)
    if code is not None:
        return code.startswith(("08", "57P"))  # connection exceptions, admin shutdown
    return isinstance(exc, OperationalError)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.path in ("/healthz", "/readyz") or best == "application/json"


def error_response(status: int, title: str, detail: str):
    """Render an error for a browser or a JSON client, with the request id."""
    rid = g.get("request_id")
    if _wants_json():
        response = jsonify(error=title, detail=detail, request_id=rid, status=status)
        response.status_code = status
        return response
    return render_template("backoffice/error.html", status=status, title=title, detail=detail, request_id=rid), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        log.warning("refused a POST without a valid CSRF token: %s", exc.description,
                    extra={"request_id": g.get("request_id")})
        return error_response(400, "Form expired or invalid", f"{exc.description} Reload the page and try again; nothing was changed.")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        response = make_response(error_response(exc.code or 500, exc.name, exc.description or ""))
        original = exc.get_response()
        for key in ("Retry-After", "WWW-Authenticate", "Allow"):
            if key in original.headers:
                response.headers[key] = original.headers[key]
        return response

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        rid = {"request_id": g.get("request_id")}
        if is_statement_timeout(exc):
            log.warning("statement timeout: %s", exc.orig, extra=rid)
            return error_response(503, "The query took too long",
                                  "The database cancelled a query that ran past the statement timeout. "
                                  "Narrow the search or filters and try again.")
        if _unreachable(exc):
            log.error("database unavailable: %s", exc.orig, extra=rid)
            return error_response(503, "Database unavailable",
                                  "The console cannot reach its database right now. Try again in a moment.")
        log.exception("database error", extra=rid)
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else exc.orig.__class__.__name__
        return error_response(500, "Database error",
                              f"The database refused the request: {first}. The error was logged; "
                              "quote the request id.")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error", extra={"request_id": g.get("request_id")})
        return error_response(500, "Internal error",
                              "Something went wrong on our side. The error was logged; quote the request id.")
