"""Request ids and one structured (JSON) log line per request."""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, request

from backoffice.core.settings import Settings

__all__ = ["init_app", "request_id", "JsonFormatter"]

log = logging.getLogger("backoffice.request")
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    _skip = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self._skip and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def request_id() -> str | None:
    """The current request's id (also sent back as ``X-Request-Id``)."""
    return g.get("request_id")


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_backoffice", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._backoffice = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask, settings: Settings) -> None:
    _configure_logging(settings.log_level)

    @app.before_request
    def _start() -> None:
        # The envelope (backoffice/web/envelope.py) named the request before anything ran.
        given = request.environ.get("backoffice.request_id")
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = given or (incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex)
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        request.environ["backoffice.logged"] = True
        started = g.get("request_started")
        operator = g.get("operator")
        log.info(
            "%s %s %s", request.method, request.path, response.status_code,
            extra={
                "request_id": g.get("request_id"),
                "operator": getattr(operator, "username", None),
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
                "client_addr": request.remote_addr,
            },
        )
        return response
