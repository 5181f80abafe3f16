"""Operator authentication: Flask-BasicAuth made safe, failing closed.

Three modes, chosen once at start-up from the settings:

* ``on``: accounts exist (environment account and/or users file); every route
  except ``/healthz`` and ``/readyz`` (static files and unknown URLs included)
  needs valid credentials, else 401 with a basic-auth challenge.
* ``off``: no accounts and ``OPERATOR_AUTH_REQUIRED`` not set: local
  development; everything is open, a warning is logged and every page says so.
* ``closed``: ``OPERATOR_AUTH_REQUIRED=1`` without accounts: every protected route
  answers 503 and nothing is served.

After authentication the request's :class:`~backoffice.core.access.Operator` is in
``g.operator`` (the audit actor), and a role gate answers 404 for screens and
actions that role may not use, before CSRF or the view run, so a forbidden POST
looks exactly like one to a missing page.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, abort, current_app, g, request
from flask_basicauth import BasicAuth

from . import limits, networks, signins
from backoffice.core.access import LOCAL_OPERATOR
from backoffice.auth.accounts import AccountBook, load_accounts
from backoffice.auth.proxy import ProxySignOn, proxy_sign_on
from backoffice.metrics.endpoint import ENDPOINT as METRICS_ENDPOINT
from backoffice.web.errors import error_response
from backoffice.web.health import PUBLIC_ENDPOINTS
from backoffice.core.settings import Settings

__all__ = ["OperatorBasicAuth", "Banner", "init_app", "quote_realm", "AUTH_OFF_BANNER"]

log = logging.getLogger("backoffice.auth")

AUTH_OFF_BANNER = ("operator auth is off: anyone who can reach this console can read and change data. "
                   "Set OPERATOR_AUTH_USERNAME and OPERATOR_AUTH_PASSWORD (or OPERATOR_AUTH_USERS_FILE).")


@dataclass(frozen=True)
class Banner:
    """A message shown at the top of every page (``level`` is a Bootstrap alert colour)."""

    level: str
    text: str


def quote_realm(realm: str) -> str:
    """``realm`` as an RFC 7230 quoted-string that is safe in a header.

    Settings already refuse control characters; quotes and backslashes are escaped
    and characters outside ASCII become ``?`` (header values are Latin-1 on the wire,
    and browsers disagree about anything beyond ASCII).
    """
    safe = realm.encode("ascii", "replace").decode("ascii")
    safe = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in safe)
    return '"' + safe.replace("\\", "\\\\").replace('"', '\\"') + '"'


class OperatorBasicAuth(BasicAuth):
    """Flask-BasicAuth with constant-time checks, roles, safe challenges and no 500s.

    Flask-BasicAuth 0.2 compares with ``==``, sends an empty 401 with the realm
    unescaped and raises KeyError when no password is configured; each of those is
    replaced here. Its ``BASIC_AUTH_FORCE`` hook stays the guard of every route.
    """

    def __init__(self, app: Flask, settings: Settings, accounts: AccountBook,
                 proxy: ProxySignOn | None = None):
        self.settings = settings
        self.accounts = accounts
        self.proxy = proxy
        if len(accounts):
            self.mode = "on"
        elif settings.operator_auth_required:
            self.mode = "closed"
        else:
            self.mode = "off"
        self.challenge_header = "Basic realm=" + quote_realm(settings.operator_auth_realm)
        super().__init__(app)

    def init_app(self, app: Flask) -> None:
        app.config["BASIC_AUTH_FORCE"] = True
        app.config["BASIC_AUTH_REALM"] = self.settings.operator_auth_realm
        super().init_app(app)

    def check_credentials(self, username, password):
        """The matching :class:`Operator` (truthy) or None; never raises."""
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        return self.accounts.check(username, password)

    def authenticate(self) -> bool:
        """True when the request may go on; sets ``g.operator``."""
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint == METRICS_ENDPOINT:
            return True  # /metrics checks its own bearer token; operator credentials never open it
        if self.mode == "off":
            g.operator = LOCAL_OPERATOR
            return True
        if self.mode == "closed":
            return False
        if self.proxy is not None and (operator := self.proxy.operator()) is not None:
            g.operator = operator
            self._signed_in(operator)
            return True
        try:
            auth = request.authorization
        except Exception:  # werkzeug returns None for most malformed headers; never let one be a 500
            auth = None
        if auth is None or auth.type != "basic":
            g.auth_failure = "no basic-auth credentials"
            return False
        operator = self.check_credentials(auth.username, auth.password)
        if operator is None:
            g.auth_failure = "wrong username or password"
            return False
        g.operator = operator
        self._signed_in(operator)
        return True

    @staticmethod
    def _signed_in(operator) -> None:
        if (events := signins.recorder()) is not None:
            events.signed_in(operator.username, limits.client_address())

    def challenge(self):
        """401 with a readable page and a safe challenge; 503 when auth is required but absent."""
        if self.mode == "closed":
            log.error("refused a request: OPERATOR_AUTH_REQUIRED=1 but no operator account is configured",
                      extra={"event": "auth.unconfigured", "client_addr": limits.client_address(),
                             "request_id": g.get("request_id")})
            return error_response(
                503, "Operator authentication is required but not configured",
                "OPERATOR_AUTH_REQUIRED=1 is set but no operator account is configured "
                "(OPERATOR_AUTH_USERNAME and OPERATOR_AUTH_PASSWORD, or OPERATOR_AUTH_USERS_FILE). "
                "Nothing is served until one is.")
        reason = g.get("auth_failure", "no basic-auth credentials")
        username = limits.attempted_username()
        # A browser's first request carries no credentials by design: note it, do not alarm.
        level = logging.WARNING if username or reason != "no basic-auth credentials" else logging.INFO
        if level == logging.WARNING and (events := signins.recorder()) is not None:
            events.failed(limits.client_address(), username)
        log.log(level, "sign-in failed: %s", reason,
                extra={"event": "auth.failed", "client_addr": limits.client_address(), "username": username,
                       "path": request.path, "request_id": g.get("request_id")})
        detail = ("The username or password was not accepted. Sign in again with your operator username and "
                  "password." if reason == "wrong username or password" else
                  "This console is for operators. Sign in with your operator username and password.")
        response = error_response(401, "Sign-in required", detail)
        body, status = response if isinstance(response, tuple) else (response, 401)
        return body, status, {"WWW-Authenticate": self.challenge_header}


def _role_gate():
    """404 for a Flask-Admin screen or action the operator's role may not use.

    Views opt in by offering ``refuses_request()`` (views/access.py); running here,
    right after authentication and before CSRF, makes a forbidden POST answer exactly
    like a POST to a page that does not exist.
    """
    if request.blueprint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    # Flask-Admin registers each page as a bound method of its view: the view is its __self__.
    view = getattr(current_app.view_functions.get(request.endpoint), "__self__", None)
    refuses = getattr(view, "refuses_request", None)
    if refuses is not None and refuses(request.endpoint.rsplit(".", 1)[-1]):
        abort(404)
    return None


def init_app(app: Flask, settings: Settings) -> OperatorBasicAuth:
    """Network allowlist first (outsiders see a missing page, never a sign-in), then the limiter
    (so 401s are counted), then the basic-auth guard, then the role gate."""
    accounts = load_accounts(settings)
    networks.init_app(app, settings)
    limits.init_app(app, settings)
    signins.init_app(app, settings.operator_auth_rate_limit_window_seconds)
    guard = OperatorBasicAuth(app, settings, accounts, proxy_sign_on(settings, accounts))
    if guard.mode != "on":
        # No request is ever answered 401 ("off" lets every one in, "closed" answers 503), so
        # there is no failed sign-in to count: checking the store on every request is pure cost.
        # The limiter stays (the dashboard reports its store); its request hooks go.
        limits.detach(app, app.extensions["backoffice.limiter"])
    app.before_request(_role_gate)
    app.extensions["backoffice.auth"] = guard
    banners = app.extensions.setdefault("backoffice.banners", [])
    if guard.mode == "off":
        log.warning("operator auth is off: no OPERATOR_AUTH_USERNAME/PASSWORD or OPERATOR_AUTH_USERS_FILE; "
                    "the console is open to anyone who can reach it (set OPERATOR_AUTH_REQUIRED=1 to refuse)")
        banners.append(lambda: Banner("danger", AUTH_OFF_BANNER))
    elif guard.mode == "closed":
        log.error("OPERATOR_AUTH_REQUIRED=1 but no operator account is configured: "
                  "every protected route answers 503")
    else:
        log.info("operator auth is on: %d account(s), realm %r", len(accounts), settings.operator_auth_realm)
        if guard.proxy is not None:
            log.info("single sign-on: operators named by %s from %s", settings.operator_auth_proxy_header,
                     ", ".join(settings.operator_auth_proxy_addresses))
    return guard
