"""The outermost layer of the console: every response leaves with its headers, a request
id and a log line, whatever failed inside.

Flask adds headers in ``after_request`` hooks, which do not run when an exception
escapes the app (a rollback on a dead socket during teardown, a hook that fails while
finishing a response); gunicorn then sends its bare ``Internal Server Error`` page
without any of them. :class:`ResponseEnvelope` wraps the WSGI app:

* it gives the request its id (``X-Request-Id`` when the client sent a sane one)
  before anything else runs, in ``environ["backoffice.request_id"]``, which the
  Flask hooks reuse;
* it adds the security headers and ``X-Request-Id`` to every response that lacks them;
* when an exception escapes before the body is sent, it answers the console's own
  error (503 when the database connection failed or stopped sending, else 500), JSON or
  HTML like the app's error pages, and logs it;
* when the app's own request-log hook did not run, it writes the request's log line.
"""
from __future__ import annotations

import html
import json
import logging
import re
import sys
import time
import uuid

from sqlalchemy.exc import DBAPIError

from . import errors
from .security import SECURE_HEADERS

__all__ = ["ResponseEnvelope", "wrap", "REQUEST_ID_KEY", "LOGGED_KEY"]

log = logging.getLogger("backoffice.request")
REQUEST_ID_KEY = "backoffice.request_id"
LOGGED_KEY = "backoffice.logged"
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_ALWAYS = {**SECURE_HEADERS, "Cache-Control": "no-store"}


def _status_code(status: str) -> int:
    try:
        return int(status.split(" ", 1)[0])
    except ValueError:
        return 0


def _is_disconnect(exc: BaseException) -> bool:
    # ``database_stalled``: an exception of ours saying the database stopped sending (an export)
    return (isinstance(exc, DBAPIError) and errors.is_unreachable(exc)) or getattr(exc, "database_stalled", False)


class ResponseEnvelope:
    """WSGI middleware; see the module docstring. Nested envelopes pass through."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if REQUEST_ID_KEY in environ:
            return self.app(environ, start_response)
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        rid = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        environ[REQUEST_ID_KEY] = rid
        started = time.perf_counter()
        state = {"status": 0}

        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            headers = list(headers)
            for name, value in _ALWAYS.items():
                if name.lower() not in present:
                    headers.append((name, value))
            if "x-request-id" not in present:
                headers.append(("X-Request-Id", rid))
            state["status"] = _status_code(status)
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start)
        except Exception as exc:  # noqa: BLE001 - the last place anything can still be answered
            body = self._fallback(environ, start, rid, exc)
        return _Body(body, lambda: self._finish(environ, rid, state["status"], started),
                     lambda exc: self._fallback(environ, start, rid, exc))

    def _fallback(self, environ, start, rid: str, exc: BaseException):
        disconnect = _is_disconnect(exc)
        log.error("%s escaped the console while answering %s %s", exc.__class__.__name__,
                  environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                  exc_info=(type(exc), exc, exc.__traceback__), extra={"request_id": rid})
        status, title, detail = ((503, *errors.UNAVAILABLE) if disconnect else
                                 (500, "Internal error", "The console failed to answer this request because of "
                                  "an error on its side. The error was logged; quote the request id."))
        accept = environ.get("HTTP_ACCEPT", "")
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz") or ("application/json" in accept and "text/html" not in accept):
            payload = json.dumps({"error": title, "detail": detail, "request_id": rid, "status": status})
            content_type = "application/json"
        else:
            payload = _PAGE.format(status=status, title=html.escape(title), detail=html.escape(detail),
                                   rid=html.escape(rid))
            content_type = "text/html; charset=utf-8"
        data = payload.encode("utf-8")
        reason = "Service Unavailable" if status == 503 else "Internal Server Error"
        start(f"{status} {reason}", [("Content-Type", content_type), ("Content-Length", str(len(data)))],
              sys.exc_info() if sys.exc_info()[0] else (type(exc), exc, exc.__traceback__))
        return [data]

    @staticmethod
    def _finish(environ, rid: str, status: int, started: float) -> None:
        if environ.get(LOGGED_KEY):
            return
        environ[LOGGED_KEY] = True
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        log.info("%s %s %s", method, path, status,
                 extra={"request_id": rid, "operator": None, "method": method, "path": path, "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "client_addr": environ.get("REMOTE_ADDR")})


class _Body:
    """The response body: logs when closed, and answers the fallback when the first
    chunk cannot be produced (nothing has been sent yet, so the status can still change)."""

    def __init__(self, body, on_close, on_first_error):
        self._body = body
        self._on_close = on_close
        self._on_first_error = on_first_error

    def __iter__(self):
        iterator = iter(self._body)
        try:
            first = next(iterator)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001
            yield from self._on_first_error(exc)
            return
        yield first
        try:
            yield from iterator
        except Exception:  # headers and part of the body are out: log it, the client sees a cut body
            log.exception("the response body failed after it started")
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        except Exception:  # noqa: BLE001 - closing must not turn a sent response into an error
            log.exception("closing the response failed")
        finally:
            self._on_close()


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><title>{status} {title} - Backoffice</title></head>
<body><h1>{status} &middot; {title}</h1><p>{detail}</p>
<p>Request id: <code>{rid}</code></p><p><a href="/admin/">Back to the console</a></p></body></html>
"""


def wrap(app) -> None:
    """Make the envelope the outermost layer of ``app``'s WSGI stack (call it last)."""
    app.wsgi_app = ResponseEnvelope(app.wsgi_app)
