"""Failed-login limits: counted (the order trap), shared by routes, proxies and instances."""
from __future__ import annotations

import logging
import time

import pytest

from tests.auth_helpers import ADMIN, ENV, basic
from testing_support import RedisServer, free_port
from tests.redis_server import redis_or_skip

LIMIT = 3
WRONG = basic(ADMIN[0], "wrong")
RIGHT = basic(*ADMIN)


@pytest.fixture
def db_url(sqlite_demo_url):
    return sqlite_demo_url


@pytest.fixture
def limited_app(make_app):
    def factory(**env):
        return make_app(OPERATOR_AUTH_RATE_LIMIT_MAX=LIMIT, **ENV, **env)
    return factory


def _from(addr: str, **headers) -> dict:
    return {"environ_base": {"REMOTE_ADDR": addr}, "headers": headers}


def test_failed_attempts_are_counted_then_even_correct_credentials_get_429(limited_app):
    client = limited_app().test_client()
    for _ in range(LIMIT):
        assert client.get("/admin/", headers=WRONG).status_code == 401
    response = client.get("/admin/", headers=RIGHT)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 900
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)
    # Another address is unaffected; health checks (the proxy's, the orchestrator's) are never limited.
    assert client.get("/admin/", headers=RIGHT, environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_requests_without_credentials_are_not_failed_sign_ins(limited_app):
    """A browser asks for pages (and their assets) before its prompt: those 401s carry no
    credentials and must not lock the operator out."""
    client = limited_app().test_client()
    for _ in range(LIMIT * 4):
        assert client.get("/admin/").status_code == 401
        assert client.get("/static/backoffice.css").status_code == 401
    assert client.get("/admin/", headers=RIGHT).status_code == 200
    for _ in range(LIMIT):
        assert client.get("/admin/", headers=WRONG).status_code == 401
    assert client.get("/admin/", headers=RIGHT).status_code == 429


def test_the_limiter_sees_the_401s_because_it_runs_before_basic_auth(limited_app):
    app = limited_app()
    hooks = [f.__qualname__ for f in app.before_request_funcs[None]]
    limiter_at = next(i for i, name in enumerate(hooks) if "Limiter" in name or "_check_request_limit" in name)
    auth_at = hooks.index("BasicAuth.init_app.<locals>.require_basic_auth")
    assert limiter_at < auth_at
    assert hooks.index("CSRFProtect.init_app.<locals>.csrf_protect") > auth_at


def test_successful_requests_do_not_count(limited_app):
    client = limited_app().test_client()
    for _ in range(LIMIT * 3):
        assert client.get("/admin/movies/", headers=RIGHT).status_code == 200
    for _ in range(LIMIT - 1):
        assert client.get("/admin/", headers=WRONG).status_code == 401
    assert client.get("/admin/", headers=RIGHT).status_code == 200


def test_the_count_is_shared_by_every_route_static_and_unknown_urls_included(limited_app):
    client = limited_app().test_client()
    assert client.get("/static/backoffice.css", headers=WRONG).status_code == 401
    assert client.get("/no-such-page", headers=WRONG).status_code == 401
    assert client.post("/admin/genres/new/", headers=WRONG).status_code == 401
    assert client.get("/admin/movies/", headers=RIGHT).status_code == 429
    assert client.get("/static/backoffice.css", headers=RIGHT).status_code == 429


def test_the_limit_lifts_when_the_window_passes(limited_app):
    client = limited_app(OPERATOR_AUTH_RATE_LIMIT_WINDOW_SECONDS=3).test_client()
    for _ in range(LIMIT):
        client.get("/admin/", headers=WRONG)
    response = client.get("/admin/", headers=RIGHT)
    assert response.status_code == 429 and 1 <= int(response.headers["Retry-After"]) <= 3
    time.sleep(3.2)
    assert client.get("/admin/", headers=RIGHT).status_code == 200


def test_lockouts_are_logged_with_address_and_username(limited_app, caplog):
    client = limited_app().test_client()
    with caplog.at_level(logging.INFO, logger="backoffice.auth"):
        for _ in range(LIMIT + 1):
            client.get("/admin/", headers=basic("mallory", "guess-123"), environ_base={"REMOTE_ADDR": "10.6.6.6"})
    [lockout] = [r for r in caplog.records if getattr(r, "event", None) == "auth.lockout"]
    assert (lockout.client_addr, lockout.username) == ("10.6.6.6", "mallory")
    assert len([r for r in caplog.records if getattr(r, "event", None) == "auth.failed"]) == LIMIT
    assert "guess-123" not in caplog.text


# -- reverse proxies ---------------------------------------------------------------------

def test_without_trusted_proxies_a_forged_forwarded_for_changes_nothing(limited_app):
    client = limited_app().test_client()
    for n in range(LIMIT):
        assert client.get("/admin/", **_from("10.0.0.1", **WRONG, **{"X-Forwarded-For": f"192.0.2.{n}"})).status_code == 401
    forged = client.get("/admin/", **_from("10.0.0.1", **RIGHT, **{"X-Forwarded-For": "198.51.100.7"}))
    assert forged.status_code == 429
    assert client.get("/admin/", **_from("10.0.0.2", **RIGHT)).status_code == 200


def test_with_one_trusted_proxy_the_forwarded_address_is_limited(limited_app):
    client = limited_app(TRUSTED_PROXY_COUNT=1).test_client()
    proxy = "10.0.0.1"
    for n in range(LIMIT):
        # The client prepends a forged address; the proxy appends the real one, which is what counts.
        headers = {**WRONG, "X-Forwarded-For": f"192.0.2.{n}, 203.0.113.5"}
        assert client.get("/admin/", **_from(proxy, **headers)).status_code == 401
    assert client.get("/admin/", **_from(proxy, **RIGHT, **{"X-Forwarded-For": "203.0.113.5"})).status_code == 429
    # Everyone else behind the same proxy still gets in.
    assert client.get("/admin/", **_from(proxy, **RIGHT, **{"X-Forwarded-For": "203.0.113.6"})).status_code == 200


# -- several instances -----------------------------------------------------------------

def test_two_instances_share_the_failure_count_through_redis(limited_app, redis_url):
    first = limited_app(RATELIMIT_STORAGE_URI=redis_url).test_client()
    second = limited_app(RATELIMIT_STORAGE_URI=redis_url).test_client()
    assert first.get("/admin/", headers=WRONG).status_code == 401
    assert second.get("/admin/", headers=WRONG).status_code == 401
    assert first.get("/admin/", headers=WRONG).status_code == 401
    assert second.get("/admin/", headers=RIGHT).status_code == 429
    assert first.get("/admin/", headers=RIGHT).status_code == 429
    assert second.get("/admin/", headers=RIGHT, environ_base={"REMOTE_ADDR": "10.7.7.7"}).status_code == 200


@pytest.mark.redis
def test_when_redis_goes_away_sign_in_fails_closed_with_a_clear_503(limited_app, caplog):
    server = RedisServer.start(redis_or_skip())
    try:
        client = limited_app(RATELIMIT_STORAGE_URI=server.url).test_client()
        assert client.get("/admin/", headers=WRONG).status_code == 401
        assert client.get("/admin/", headers=RIGHT).status_code == 200
    finally:
        server.stop()
    with caplog.at_level(logging.WARNING):
        answers = [client.get("/admin/", headers=h) for h in (RIGHT, WRONG, WRONG, WRONG, WRONG, RIGHT)]
    assert [a.status_code for a in answers] == [503] * 6  # no guess is ever checked uncounted
    body = answers[0].get_data(as_text=True)
    assert "Sign-in is unavailable" in body and "cannot be reached" in body
    assert answers[0].headers["X-Request-Id"] and answers[0].headers["Content-Security-Policy"]
    assert any("Sign-in is unavailable" in r.getMessage() for r in caplog.records)
    assert client.get("/healthz").status_code == 200


def test_an_unreachable_redis_at_start_up_fails_closed(limited_app):
    client = limited_app(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}").test_client()
    assert [client.get("/admin/", headers=WRONG).status_code for _ in range(LIMIT + 1)] == [503] * (LIMIT + 1)
    assert client.get("/admin/", headers=RIGHT).status_code == 503


def test_redis_url_is_used_when_ratelimit_storage_uri_is_unset(limited_app, redis_url):
    first = limited_app(REDIS_URL=redis_url).test_client()
    second = limited_app(REDIS_URL=redis_url).test_client()
    for client in (first, second, first):
        assert client.get("/admin/", headers=WRONG).status_code == 401
    assert second.get("/admin/", headers=RIGHT).status_code == 429


def test_without_redis_the_count_lives_in_a_file_of_the_instance_folder(limited_app, tmp_path):
    first = limited_app().test_client()
    second = limited_app().test_client()  # another process's console, same instance folder
    for client in (first, second, first):
        assert client.get("/admin/", headers=WRONG).status_code == 401
    assert second.get("/admin/", headers=RIGHT).status_code == 429
    assert (tmp_path / "instance" / "backoffice-limits.sqlite").is_file()


def test_with_operator_auth_off_no_request_waits_on_the_limit_store(make_app):
    """Auth off: no request is ever answered 401, so there is nothing to count; the store is
    not asked at all (an unreachable one takes nothing down, and no request pays a lookup),
    while the same store refuses every request once sign-in is on (the test above)."""
    app = make_app(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}", OPERATOR_AUTH_RATE_LIMIT_MAX=LIMIT)
    client = app.test_client()
    assert app.extensions["backoffice.auth"].mode == "off"
    limiter = app.extensions["backoffice.limiter"]
    hooks = [f for funcs in (*app.before_request_funcs.values(), *app.after_request_funcs.values(),
                             *app.teardown_request_funcs.values()) for f in funcs]
    assert hooks and not [f for f in hooks if getattr(f, "__self__", None) is limiter
                          or limiter in getattr(f, "args", ())]
    for _ in range(LIMIT + 2):
        assert client.get("/admin/", headers=WRONG).status_code == 200
    assert client.get("/admin/movies/").status_code == 200
