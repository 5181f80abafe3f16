"""Honest errors: a clear page (or JSON), a request id, never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, NotFound

__all__ = ["init_app", "error_response", "is_statement_timeout", "is_unreachable", "database_error_response",
           "unavailable_when", "UNAVAILABLE"]

log = logging.getLogger(__name__)


def is_statement_timeout(exc: BaseException) -> bool:
    """True for PostgreSQL's ``statement_timeout`` cancellation (SQLSTATE 57014)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "pgcode", None) == "57014"


def is_unreachable(exc: DBAPIError) -> bool:
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


#: What the operator is told when the database cannot be reached or stops answering.
UNAVAILABLE = ("Database unavailable",
               "The console could not reach its database, or the database stopped answering, so this "
               "request did not complete. Try again in a moment; if you were saving a change, check the "
               "row (or its history) before saving again.")


def database_error_response(exc: DBAPIError):
    """The response (and log line) for a database error that reached the request."""
    rid = {"request_id": g.get("request_id")}
    if is_statement_timeout(exc):
        log.warning("statement timeout: %s", exc.orig, extra=rid)
        return error_response(503, "The query took too long",
                              "The database cancelled a query that ran past the statement timeout "
                              "(STATEMENT_TIMEOUT_MS), so nothing was shown or changed. Narrow the search "
                              "or filters and try again.")
    if is_unreachable(exc):
        log.error("database unavailable: %s", str(exc.orig).strip() or exc.orig.__class__.__name__, extra=rid)
        return error_response(503, *UNAVAILABLE)
    log.exception("database error", extra=rid)
    first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else exc.orig.__class__.__name__
    return error_response(500, "Database error",
                          f"The database refused the request: {first}. The error was logged; "
                          "quote the request id.")


def unavailable_when(app: Flask, kind: type[BaseException], title: str, detail: str) -> None:
    """Answer 503 (title, detail) when an exception of ``kind`` reaches the request, also when
    it is raised while a response is being finished (Flask then reports a 500 wrapping it)."""
    app.extensions.setdefault("backoffice.unavailable", {})[kind] = (title, detail)

    @app.errorhandler(kind)
    def _unavailable(exc):
        log.error("%s: %s", title, exc, extra={"request_id": g.get("request_id")})
        return error_response(503, title, detail)


def _unavailable_cause(exc: BaseException) -> tuple[str, str] | None:
    known = current_app.extensions.get("backoffice.unavailable", {})
    original = getattr(exc, "original_exception", None)
    for kind, message in known.items():
        if isinstance(original, kind):
            return message
    return None


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        log.warning("refused a POST without a valid CSRF token: %s", exc.description,
                    extra={"request_id": g.get("request_id")})
        # Tokens never expire here (WTF_CSRF_TIME_LIMIT=None): say what Flask-WTF found, not "expired".
        return error_response(400, "Form refused: its security token did not check out",
                              f"{exc.description} Nothing was changed. Reload the page for a fresh form and "
                              "submit it again (a token stops matching when the console's SECRET_KEY changes "
                              "or the browser's session cookie is gone).")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        cause = _unavailable_cause(exc)
        if cause is not None:
            log.error("%s: %s", cause[0], exc.original_exception, extra={"request_id": g.get("request_id")})
            return error_response(503, *cause)
        if isinstance(exc, (NotFound, MethodNotAllowed)):
            # A method a URL does not take is a page that does not exist: the same 404, so
            # probing methods tells nothing about which URLs exist.
            detail = exc.description if isinstance(exc, NotFound) else _NOT_FOUND.description
            return error_response(404, _NOT_FOUND.name, detail or _NOT_FOUND.description)
        if isinstance(exc, InternalServerError):
            log.error("unhandled error", exc_info=getattr(exc, "original_exception", None) or exc,
                      extra={"request_id": g.get("request_id")})
            return error_response(500, "Internal error", _INTERNAL)
        response = make_response(error_response(exc.code or 500, exc.name, exc.description or ""))
        original = exc.get_response()
        for key in ("Retry-After", "WWW-Authenticate"):
            if key in original.headers:
                response.headers[key] = original.headers[key]
        return response

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        return database_error_response(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error", extra={"request_id": g.get("request_id")})
        return error_response(500, "Internal error", _INTERNAL)


_NOT_FOUND = NotFound()
_INTERNAL = ("The console failed to answer this request because of an error on its side. "
             "The error was logged; quote the request id.")
