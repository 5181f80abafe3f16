"""Failed-login limits with Flask-Limiter: only 401s count, shared by every route.

Initialise this BEFORE the basic-auth guard: Flask runs ``before_request`` hooks in
registration order, and a guard that answers 401 first leaves nothing for the
limiter to see (the order trap; a test proves the count really moves).
"""
from __future__ import annotations

import logging
import math
import time

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

from backoffice.metrics.endpoint import ENDPOINT as METRICS_ENDPOINT
from backoffice.web.errors import error_response
from backoffice.web.health import PUBLIC_ENDPOINTS
from backoffice.core.settings import Settings

__all__ = ["init_app", "client_address", "attempted_username"]

log = logging.getLogger("backoffice.auth")

#: Every request is identified alike so that the application limit also covers static
#: files and unknown URLs (Flask-Limiter exempts requests without an endpoint and any
#: ``*.static`` endpoint; an attacker would simply guess passwords there).
_REQUEST_IDENTITY = "backoffice"
#: A blackholed Redis must not hang requests: fail over to memory quickly instead.
_REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def client_address() -> str:
    """The address limits are counted against (after ProxyFix, when proxies are trusted)."""
    # A missing address (unix socket) must still be limited, not silently skipped.
    return request.remote_addr or "unknown"


def attempted_username() -> str | None:
    """The username a request claims, shortened for logs; never the password."""
    try:
        auth = request.authorization
    except Exception:  # a malformed header is simply "no username"
        return None
    name = getattr(auth, "username", None) if auth is not None else None
    return name[:100] if name else None


def _is_public() -> bool:
    # /metrics is not a sign-in: its wrong tokens are never counted (a 404), and monitoring
    # must keep working from an address an attacker shares (a NAT, an office proxy).
    return request.endpoint in PUBLIC_ENDPOINTS or request.endpoint == METRICS_ENDPOINT


def _log_lockout(limit) -> None:
    log.warning("sign-in locked out: too many failed attempts from this address",
                extra={"event": "auth.lockout", "client_addr": client_address(),
                       "username": attempted_username(), "limit": str(limit.limit),
                       "request_id": g.get("request_id")})


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Count failed sign-ins per client address in ``RATELIMIT_STORAGE_URI``."""
    window = settings.operator_auth_rate_limit_window_seconds
    uri = settings.ratelimit_storage_uri
    limiter = Limiter(
        client_address,
        application_limits=[f"{settings.operator_auth_rate_limit_max} per {window} second"],
        # A failed sign-in is a 401 to a request that carried credentials: a browser's
        # first requests (before its prompt) send none and must not lock anyone out.
        application_limits_deduct_when=lambda response: (
            response.status_code == 401 and request.authorization is not None),
        request_identifier=lambda: _REQUEST_IDENTITY,
        storage_uri=uri,
        storage_options=_REDIS_TIMEOUTS if uri.startswith("redis") else {},
        # "At most N failures in any window", not 2N across a fixed window's edge.
        strategy="moving-window",
        key_prefix="backoffice-auth",
        in_memory_fallback_enabled=True,
        # Only a storage error between the check and the deduction of one request is
        # swallowed (and logged); every other storage error switches to memory.
        swallow_errors=True,
        headers_enabled=False,
        on_breach=_log_lockout,
    )
    limiter.request_filter(_is_public)
    limiter.init_app(app)
    app.extensions["backoffice.limiter"] = limiter

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded):
        retry_after = window
        current = limiter.current_limit
        if current is not None:
            try:
                retry_after = min(window, max(1, math.ceil(current.reset_at - time.time())))
            except Exception:  # storage gone mid-request: the whole window is a safe answer
                retry_after = window
        response = error_response(
            429, "Too many failed sign-in attempts",
            f"This address made too many failed sign-in attempts. Try again in {retry_after} seconds.")
        body, status = response if isinstance(response, tuple) else (response, 429)
        return body, status, {"Retry-After": str(retry_after)}

    return limiter
