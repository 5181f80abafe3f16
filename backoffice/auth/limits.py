"""Failed-login limits with Flask-Limiter: only 401s count, shared by every route,
every worker and (with Redis) every instance.

Initialise this BEFORE the basic-auth guard: Flask runs ``before_request`` hooks in
registration order, and a guard that answers 401 first leaves nothing for the
limiter to see (the order trap; a test proves the count really moves).

Where the count lives: ``RATELIMIT_STORAGE_URI``, else ``REDIS_URL``, else a SQLite
file in the instance folder shared by every worker of this host
(:mod:`backoffice.auth.store`). ``memory://`` still works but counts per process.
When the store cannot be reached the console fails closed: every request that would
need a sign-in answers 503 until the store is back (health checks excepted).
"""
from __future__ import annotations

import logging
import math
import sqlite3
import time
from functools import partial

from pathlib import Path

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from limits.errors import StorageError

from backoffice.auth.store import SqliteFileStorage, storage_uri
from backoffice.metrics.endpoint import ENDPOINT as METRICS_ENDPOINT
from backoffice.web.errors import error_response, unavailable_when
from backoffice.web.health import PUBLIC_ENDPOINTS
from backoffice.core.settings import Settings, SettingsError

__all__ = ["init_app", "detach", "client_address", "attempted_username", "LIMITS_FILE", "STORE_UNAVAILABLE"]

log = logging.getLogger("backoffice.auth")

#: Every request is identified alike so that the application limit also covers static
#: files and unknown URLs (Flask-Limiter exempts requests without an endpoint and any
#: ``*.static`` endpoint; an attacker would simply guess passwords there).
_REQUEST_IDENTITY = "backoffice"
#: A blackholed Redis must not hang requests: give up quickly (and fail closed).
_REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
#: The store shared by this host's workers when neither RATELIMIT_STORAGE_URI nor REDIS_URL is set.
LIMITS_FILE = "backoffice-limits.sqlite"
STORE_UNAVAILABLE = (
    "Sign-in is unavailable",
    "The store that counts failed sign-in attempts cannot be reached, so no sign-in is accepted "
    "until it answers again (the console fails closed). Nothing was changed; try again shortly.")


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


def _lockout_logger(window: int):
    def log_lockout(limit) -> None:
        # One line per address and window, whichever worker or instance refuses: the
        # shared store itself decides who logs (one entry per address per window).
        try:
            storage = current_app.extensions["backoffice.limiter"].storage
            first = storage.acquire_entry(f"backoffice-auth-lockout/{client_address()}", 1, window)
        except Exception:  # the 429 matters more than the log line
            first = True
        if first:
            if (events := current_app.extensions.get("backoffice.signins")) is not None:
                events.locked_out(client_address(), attempted_username())
            log.warning("sign-in locked out: too many failed attempts from this address",
                        extra={"event": "auth.lockout", "client_addr": client_address(),
                               "username": attempted_username(), "limit": str(limit.limit),
                               "window_seconds": window, "request_id": g.get("request_id")})
    return log_lockout


def _storage(app: Flask, settings: Settings) -> tuple[str, dict]:
    uri = settings.limit_storage_uri
    if uri is None:
        path = Path(app.instance_path) / LIMITS_FILE
        try:
            SqliteFileStorage(storage_uri(path))  # creates the file now: a problem stops start-up, named
        except (OSError, sqlite3.Error) as exc:
            raise SettingsError([f"neither RATELIMIT_STORAGE_URI nor REDIS_URL is set and the failed sign-in "
                                 f"store {path} cannot be created ({exc}); make the instance folder writable "
                                 "or set REDIS_URL"]) from None
        return storage_uri(path), {"wrap_exceptions": True}
    if uri.startswith("memory"):
        log.warning("RATELIMIT_STORAGE_URI=memory:// counts failed sign-ins per process: with several "
                    "workers or instances an address gets the limit once per process")
        return uri, {}
    return uri, {**_REDIS_TIMEOUTS, "wrap_exceptions": True}


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Count failed sign-ins per client address in ``RATELIMIT_STORAGE_URI``."""
    window = settings.operator_auth_rate_limit_window_seconds
    uri, options = _storage(app, settings)
    limiter = Limiter(
        client_address,
        application_limits=[f"{settings.operator_auth_rate_limit_max} per {window} second"],
        # A failed sign-in is a 401 to a request that carried credentials: a browser's
        # first requests (before its prompt) send none and must not lock anyone out.
        application_limits_deduct_when=lambda response: (
            response.status_code == 401 and request.authorization is not None),
        request_identifier=lambda: _REQUEST_IDENTITY,
        storage_uri=uri,
        storage_options=options,
        # "At most N failures in any window", not 2N across a fixed window's edge.
        strategy="moving-window",
        key_prefix="backoffice-auth",
        # Fail closed: no fallback to a per-process memory store (it would hand every
        # worker a fresh allowance), and a storage error is a 503, never a pass.
        in_memory_fallback_enabled=False,
        swallow_errors=False,
        headers_enabled=False,
        on_breach=_lockout_logger(window),
    )
    limiter.request_filter(_is_public)
    limiter.init_app(app)
    app.extensions["backoffice.limiter"] = limiter
    unavailable_when(app, StorageError, *STORE_UNAVAILABLE)

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


def detach(app: Flask, limiter: Limiter) -> None:
    """Switch ``limiter`` off and take its request hooks out of ``app`` (Flask-Limiter
    registers a check before, headers after and a release at the end of every request;
    switched off they still look the request's limits up)."""
    limiter.enabled = False

    def its_own(hook) -> bool:
        owner = getattr(hook, "__self__", None)
        if owner is None and isinstance(hook, partial):
            owner = hook.args[0] if hook.args else None
        return owner is limiter

    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        for blueprint, funcs in hooks.items():
            funcs[:] = [hook for hook in funcs if not its_own(hook)]
