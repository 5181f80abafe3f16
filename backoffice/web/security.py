"""Secure defaults for every response: headers, cookies and the trusted-proxy rule."""
from __future__ import annotations

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from backoffice.core.settings import Settings

__all__ = ["init_app", "SECURE_HEADERS", "CONTENT_SECURITY_POLICY"]

#: Everything from this console only; scripts only from its own files (no inline script,
#: no inline event handler, no ``javascript:`` URL: the templates that had them are
#: overridden, see backoffice/templates/admin/); styles may be inline (Flask-Admin's
#: markup carries style attributes, and a style cannot run code); no framing
#: (clickjacking), no plugins, no <base> hijack, forms post only to this console.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
                           "frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'")
SECURE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # same-origin, not no-referrer: Flask-WTF checks the Referer of HTTPS POSTs.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class _SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or (has_request_context() and request.is_secure))


def init_app(app: Flask, settings: Settings) -> None:
    """Trust ``TRUSTED_PROXY_COUNT`` proxies, and harden every response and cookie."""
    if settings.trusted_proxy_count:
        # With 0 nothing is wrapped: X-Forwarded-For is a client's own claim and is ignored,
        # so nobody dodges the failed-login limit by inventing addresses.
        n = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")
    app.session_interface = _SessionInterface()

    @app.after_request
    def _secure_headers(response):
        for name, value in SECURE_HEADERS.items():
            response.headers.setdefault(name, value)
        endpoint = request.endpoint or ""
        is_asset = endpoint == "static" or endpoint.endswith(".static")
        if not (is_asset and response.status_code in (200, 304)):
            # Operator pages show catalog data: keep them out of every cache and the back button.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response
