"""Secure defaults: headers, cookies, honest 500s, and no configuration that yields a 500."""
from __future__ import annotations

import base64
import logging

import pytest

from tests.auth_helpers import ADMIN, ENV, basic, write_users
from testing_support import free_port


@pytest.fixture
def db_url(sqlite_demo_url):
    return sqlite_demo_url


def _assert_secure_headers(response, path):
    assert response.headers["X-Content-Type-Options"] == "nosniff", path
    assert response.headers["X-Frame-Options"] == "DENY", path
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
    assert response.headers["Referrer-Policy"] == "same-origin", path


def test_secure_headers_on_every_response(make_app):
    client = make_app(**ENV).test_client()
    cases = [("/admin/", basic(*ADMIN), 200), ("/admin/movies/", basic(*ADMIN), 200), ("/admin/", {}, 401),
             ("/no-such-page", basic(*ADMIN), 404), ("/healthz", {}, 200), ("/readyz", {}, 200),
             ("/static/backoffice.css", basic(*ADMIN), 200)]
    for path, headers, status in cases:
        response = client.get(path, headers=headers)
        assert response.status_code == status, path
        _assert_secure_headers(response, path)
        if not path.startswith("/static/"):
            assert response.headers["Cache-Control"] == "no-store", path
        response.close()  # a static file stays open until closed (a ResourceWarning otherwise)


def test_session_cookie_is_httponly_strict_and_secure_over_https(make_app):
    client = make_app(**ENV).test_client()
    plain = client.get("/admin/genres/new/", headers=basic(*ADMIN)).headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Strict" in plain and "Secure" not in plain
    https = make_app(**ENV).test_client().get("/admin/genres/new/", headers=basic(*ADMIN),
                                             base_url="https://console.example")
    cookie = https.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_https_behind_a_trusted_proxy_marks_the_cookie_secure(make_app):
    headers = {**basic(*ADMIN), "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    trusted = make_app(TRUSTED_PROXY_COUNT=1, **ENV).test_client().get("/admin/genres/new/", headers=headers)
    assert "Secure" in trusted.headers["Set-Cookie"]
    untrusted = make_app(**ENV).test_client().get("/admin/genres/new/", headers=headers)
    assert "Secure" not in untrusted.headers["Set-Cookie"]


def test_a_500_shows_a_request_id_that_is_in_the_log_and_no_trace(make_app, caplog):
    app = make_app(**ENV)

    @app.get("/admin/explode")
    def explode():
        raise RuntimeError("secret internals: dsn=postgres://u:p@db")

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/admin/explode", headers=basic(*ADMIN))
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "secret internals" not in body
    request_id = response.headers["X-Request-Id"]
    assert request_id in body
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id and r.exc_info]
    assert logged and "secret internals" in caplog.text
    _assert_secure_headers(response, "/admin/explode")


def _raw(value: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(value).decode()}


#: Whatever a client sends: nothing, garbage, other schemes, odd encodings, huge values.
AUTH_VARIANTS = [
    {}, basic(*ADMIN), basic(ADMIN[0], "wrong"), basic("", ""), basic("nobody", ADMIN[1]),
    {"Authorization": "Basic"}, {"Authorization": "Basic !!!not-base64!!!"},
    {"Authorization": "Bearer abc.def"}, {"Authorization": "Digest username=\"ann\""},
    _raw(b"no-colon-at-all"), _raw(b"\xff\xfe:\x80\x81"), _raw(b"ann:" + ADMIN[1].encode() + b"\x00"),
    basic("x" * 5000, "y" * 5000), {"Authorization": "Basic " + "A" * 20000},
    {"X-Forwarded-For": "not an address, , 999.1.1.1"},
]
PATHS = ["/admin/", "/admin/genres/new/", "/static/backoffice.css", "/no-such-page", "/healthz"]


@pytest.mark.parametrize("env", [
    {},
    {"OPERATOR_AUTH_REQUIRED": "1"},
    ENV,
    {**ENV, "OPERATOR_AUTH_REALM": "Ümlaut \"quoted\" \\ realm"},
    {**ENV, "TRUSTED_PROXY_COUNT": "2", "OPERATOR_AUTH_RATE_LIMIT_MAX": "2"},
    {**ENV, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:{port}"},
    {"OPERATOR_AUTH_USERS_FILE": "{users}"},
], ids=["off", "closed", "on", "odd-realm", "proxies-low-limit", "redis-down", "users-file"])
def test_no_configuration_ever_produces_a_500(make_app, tmp_path, env):
    users = write_users(tmp_path / "users", {"vera": ("viewer", "pw")})
    env = {k: v.format(port=free_port(), users=users) for k, v in env.items()}
    client = make_app(**env).test_client()
    for path in PATHS:
        for headers in AUTH_VARIANTS:
            for method in (client.get, client.post):
                response = method(path, headers=headers)
                body = response.get_data(as_text=True)
                assert response.status_code < 500 or response.status_code == 503, (path, headers, response.status_code)
                assert "Traceback" not in body
                if response.status_code == 503 and "redis" in str(env.get("RATELIMIT_STORAGE_URI")):
                    assert "failed sign-in attempts cannot be reached" in body, (path, headers)  # fails closed
                elif response.status_code == 503:
                    assert "required but not configured" in body, (path, headers)
