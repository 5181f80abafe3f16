"""The operator network allowlist (``OPERATOR_ALLOWED_NETWORKS``).

A request from an address outside every allowed network gets exactly what a request
for a page that does not exist gets (404), before the failed-sign-in limiter and the
basic-auth guard run: an outsider learns nothing about the console, cannot guess
passwords and cannot spend the shared failed-attempt allowance of an office address.
The health endpoints stay open so a load balancer can probe from its own network.

The address checked is ``request.remote_addr``: the peer itself, or the client that
``TRUSTED_PROXY_COUNT`` proxies named (``backoffice/web/security.py`` applies ProxyFix
before any request hook). An address that cannot be read (a unix socket without a
trusted proxy) is outside every network: the list fails closed.
"""
from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from flask import Flask, abort, g, request

from backoffice.core.settings import Settings
from backoffice.web.health import PUBLIC_ENDPOINTS

__all__ = ["NetworkAllowlist", "init_app"]

log = logging.getLogger("backoffice.auth")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class NetworkAllowlist:
    """Answers whether an address text falls inside one of the allowed networks."""

    def __init__(self, networks: Iterable[str]):
        self.networks: tuple[_Network, ...] = tuple(ipaddress.ip_network(n) for n in networks)

    def allows(self, address: str | None) -> bool:
        """True when ``address`` is inside an allowed network; False for anything unreadable."""
        try:
            ip = ipaddress.ip_address((address or "").strip())
        except ValueError:
            return False
        candidates = [ip]
        # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; they belong to the IPv4 list.
        mapped = getattr(ip, "ipv4_mapped", None)
        if mapped is not None:
            candidates.append(mapped)
        if getattr(ip, "scope_id", None):
            candidates.append(ipaddress.ip_address(str(ip).split("%", 1)[0]))
        return any(c in net for c in candidates for net in self.networks if c.version == net.version)

    def __repr__(self) -> str:
        return f"NetworkAllowlist({', '.join(map(str, self.networks))})"


def init_app(app: Flask, settings: Settings) -> NetworkAllowlist | None:
    """Refuse requests from outside ``OPERATOR_ALLOWED_NETWORKS``; call before the auth guard."""
    if settings.operator_allowed_networks is None:
        return None
    allowlist = NetworkAllowlist(settings.operator_allowed_networks)
    app.extensions["backoffice.allowlist"] = allowlist

    def _refuse_outsiders():
        if request.endpoint in PUBLIC_ENDPOINTS or allowlist.allows(request.remote_addr):
            return None
        log.info("refused a request from outside OPERATOR_ALLOWED_NETWORKS",
                 extra={"event": "auth.network_refused", "client_addr": request.remote_addr or "unknown",
                        "path": request.path, "request_id": g.get("request_id")})
        abort(404)  # the very same page an unknown URL gets

    app.before_request(_refuse_outsiders)
    log.info("operator networks: %s", ", ".join(settings.operator_allowed_networks))
    return allowlist
