"""Single sign-on through a trusted proxy (oauth2-proxy and the like).

With ``OPERATOR_AUTH_PROXY_HEADER`` set (for example ``X-Forwarded-Email``), a proxy
in front of the console signs people in with the company's identity provider (which
brings MFA) and passes the signed-in user in that header. The console believes the
header only when the request's direct peer is the sign-in proxy
(``OPERATOR_AUTH_PROXY_ADDRESSES``, loopback by default: a sidecar); from anywhere
else the header is ignored and logged, so a client that reaches the console around
the proxy cannot claim an identity by sending it. The user's role comes from the
users file (``OPERATOR_AUTH_USERS_FILE``); a user who is not in it gets no access at
all: every page answers like a missing one. Basic auth keeps working beside it for
accounts with a password (scripts, break-glass); an account whose password field is
``!`` signs in only through the proxy.
"""
from __future__ import annotations

import ipaddress
import logging

from flask import abort, g, request

from backoffice.auth.accounts import AccountBook
from backoffice.core.access import Operator
from backoffice.core.settings import Settings

__all__ = ["ProxySignOn", "proxy_sign_on", "MAX_IDENTITY_LENGTH"]

log = logging.getLogger("backoffice.auth")

#: Longer than any e-mail address (254); anything longer is not an identity.
MAX_IDENTITY_LENGTH = 320
#: Where werkzeug's ProxyFix keeps the values it replaced (documented by werkzeug).
_ORIGINAL_ENVIRON = "werkzeug.proxy_fix.orig"


class ProxySignOn:
    """Reads the operator from the sign-in proxy's header, when the proxy sent it."""

    def __init__(self, header: str, networks: tuple[str, ...], accounts: AccountBook):
        self.header = header
        self.networks = tuple(ipaddress.ip_network(n) for n in networks)
        self.accounts = accounts

    def peer_address(self) -> str | None:
        """The address that opened this connection (the proxy's), before ProxyFix rewrote it."""
        original = request.environ.get(_ORIGINAL_ENVIRON) or {}
        return original.get("REMOTE_ADDR", request.environ.get("REMOTE_ADDR"))

    def from_proxy(self) -> bool:
        try:
            peer = ipaddress.ip_address(self.peer_address() or "")
        except ValueError:  # a unix socket or nothing at all: not the proxy we were told about
            return False
        return any(peer in network for network in self.networks)

    def operator(self) -> Operator | None:
        """The signed-in operator, or None when no trusted proxy named one.

        Aborts with 404 when the proxy names a user who has no account here.
        """
        claimed = request.headers.get(self.header)
        if claimed is None:
            return None
        if not self.from_proxy():
            log.warning("ignored %s from %s: it is not the sign-in proxy", self.header, self.peer_address(),
                        extra={"event": "auth.proxy_untrusted", "client_addr": request.remote_addr,
                               "request_id": g.get("request_id")})
            return None
        identity = claimed.strip()
        if not identity:
            return None
        if len(identity) > MAX_IDENTITY_LENGTH or any(ord(ch) < 32 or ord(ch) == 127 for ch in identity):
            g.auth_failure = "malformed single-sign-on identity"
            log.warning("refused a malformed %s header", self.header,
                        extra={"event": "auth.proxy_unknown", "request_id": g.get("request_id")})
            abort(404)
        operator = self.accounts.lookup(identity)
        if operator is None:
            g.auth_failure = "signed in at the proxy but unknown to the console"
            log.warning("refused %s: signed in at the proxy but not in the users file", identity[:100],
                        extra={"event": "auth.proxy_unknown", "username": identity[:100],
                               "client_addr": request.remote_addr, "request_id": g.get("request_id")})
            abort(404)
        return operator


def proxy_sign_on(settings: Settings, accounts: AccountBook) -> ProxySignOn | None:
    """The proxy sign-on of these settings, or None when ``OPERATOR_AUTH_PROXY_HEADER`` is unset."""
    if not settings.operator_auth_proxy_header:
        return None
    return ProxySignOn(settings.operator_auth_proxy_header, settings.operator_auth_proxy_addresses, accounts)
