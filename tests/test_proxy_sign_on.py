"""Single sign-on through a trusted proxy: the header is believed only from the proxy,
the users file gives the role, unknown users get nothing, basic auth keeps working."""
from __future__ import annotations

import logging

import pytest

from backoffice.core.settings import SettingsError
from tests.auth_helpers import FAST_HASH, basic
from tests.conftest import outside_sql
from tests.reflection_walk import form_fields

HEADER = "X-Forwarded-Email"
PROXY = {"REMOTE_ADDR": "127.0.0.1"}        # the sign-in proxy runs beside the console
ELSEWHERE = {"REMOTE_ADDR": "10.9.8.7"}     # someone who reached the console around it


@pytest.fixture
def db_url(sqlite_demo_url):
    """Sign-on does not depend on the database (one audited edit checks the actor)."""
    return sqlite_demo_url


@pytest.fixture
def users_file(tmp_path):
    from werkzeug.security import generate_password_hash

    path = tmp_path / "users"
    path.write_text("\n".join([
        "viv@example.com:viewer:!",
        "otto@example.com:operator:!",
        f"script:admin:{generate_password_hash('script password', method=FAST_HASH)}",
    ]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def sso(make_app, users_file):
    app = make_app(OPERATOR_AUTH_PROXY_HEADER=HEADER, TRUSTED_PROXY_COUNT=1, OPERATOR_AUTH_USERS_FILE=users_file)
    return app.test_client()


def via_proxy(client, path, user, method="get", **kwargs):
    headers = {HEADER: user, "X-Forwarded-For": "203.0.113.5", **kwargs.pop("headers", {})}
    return getattr(client, method)(path, headers=headers, environ_base=PROXY, **kwargs)


def test_the_proxy_named_user_gets_the_role_of_the_users_file(sso):
    assert via_proxy(sso, "/admin/movies/", "viv@example.com").status_code == 200
    assert via_proxy(sso, "/admin/movies/edit/?id=1", "viv@example.com").status_code == 404  # a viewer
    assert via_proxy(sso, "/admin/movies/edit/?id=1", "otto@example.com").status_code == 200
    page = via_proxy(sso, "/admin/", "otto@example.com").get_data(as_text=True)
    assert "otto@example.com" in page


def test_the_audit_actor_is_the_signed_in_user(sso):
    app = sso.application
    edit = "/admin/movies/edit/?id=1"
    form = dict(form_fields(via_proxy(sso, edit, "otto@example.com").get_data(as_text=True)))
    saved = via_proxy(sso, edit, "otto@example.com", method="post", data={**form, "title": "Renamed by SSO"})
    assert saved.status_code == 302
    row = outside_sql(app, "SELECT actor, actor_role, client_addr FROM backoffice_audit_events "
                           "WHERE entity_type = 'movies' ORDER BY id DESC LIMIT 1")[0]
    assert (row["actor"], row["actor_role"], row["client_addr"]) == ("otto@example.com", "operator", "203.0.113.5")


@pytest.mark.parametrize("path", ["/admin/", "/admin/movies/", "/admin/catalog-health/", "/no-such-page"])
def test_a_user_the_users_file_does_not_know_gets_no_access_at_all(sso, path, caplog):
    with caplog.at_level(logging.WARNING, logger="backoffice.auth"):
        response = via_proxy(sso, path, "mallory@example.com")
    assert response.status_code == 404
    assert "WWW-Authenticate" not in response.headers  # no password prompt to try instead
    assert any(getattr(r, "event", None) == "auth.proxy_unknown" for r in caplog.records)


@pytest.mark.parametrize("user", ["viv@example.com\x00", "x" * 400, "viv@example.com\r\nX-Evil: 1"])
def test_a_malformed_identity_is_refused(sso, user):
    # werkzeug refuses to send CR/LF in a header, so the raw value goes in through the environ.
    response = sso.get("/admin/", environ_base={**PROXY, "HTTP_X_FORWARDED_EMAIL": user,
                                                "HTTP_X_FORWARDED_FOR": "203.0.113.5"})
    assert response.status_code == 404


def test_the_header_from_anywhere_but_the_proxy_is_ignored(sso, caplog):
    with caplog.at_level(logging.WARNING, logger="backoffice.auth"):
        response = sso.get("/admin/", headers={HEADER: "otto@example.com", "X-Forwarded-For": "127.0.0.1"},
                           environ_base=ELSEWHERE)
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers
    assert any(getattr(r, "event", None) == "auth.proxy_untrusted" for r in caplog.records)


def test_basic_auth_keeps_working_beside_it_and_proxy_only_accounts_have_no_password(sso):
    assert sso.get("/admin/", headers=basic("script", "script password"), environ_base=ELSEWHERE).status_code == 200
    for password in ("!", "", "anything"):
        response = sso.get("/admin/", headers=basic("otto@example.com", password), environ_base=ELSEWHERE)
        assert response.status_code == 401


def test_without_the_setting_the_header_means_nothing(make_app, users_file):
    client = make_app(TRUSTED_PROXY_COUNT=1, OPERATOR_AUTH_USERS_FILE=users_file).test_client()
    assert via_proxy(client, "/admin/", "otto@example.com").status_code == 401


def test_sign_on_needs_a_trusted_proxy_and_a_users_file(make_app, users_file):
    with pytest.raises(SettingsError) as error:
        make_app(OPERATOR_AUTH_PROXY_HEADER=HEADER)
    text = str(error.value)
    assert "needs TRUSTED_PROXY_COUNT" in text and "needs OPERATOR_AUTH_USERS_FILE" in text
    for bad in ("Authorization", "X-Forwarded-For", "Cookie", "X Email"):
        with pytest.raises(SettingsError, match="OPERATOR_AUTH_PROXY_HEADER"):
            make_app(OPERATOR_AUTH_PROXY_HEADER=bad, TRUSTED_PROXY_COUNT=1, OPERATOR_AUTH_USERS_FILE=users_file)
    with pytest.raises(SettingsError, match="OPERATOR_AUTH_PROXY_ADDRESSES"):
        make_app(OPERATOR_AUTH_PROXY_HEADER=HEADER, TRUSTED_PROXY_COUNT=1, OPERATOR_AUTH_USERS_FILE=users_file,
                 OPERATOR_AUTH_PROXY_ADDRESSES="10.0.0.0/8,proxy.internal")


def test_the_proxy_addresses_can_be_a_network(make_app, users_file):
    client = make_app(OPERATOR_AUTH_PROXY_HEADER=HEADER, TRUSTED_PROXY_COUNT=1, OPERATOR_AUTH_USERS_FILE=users_file,
                      OPERATOR_AUTH_PROXY_ADDRESSES="10.9.0.0/16").test_client()
    headers = {HEADER: "viv@example.com", "X-Forwarded-For": "203.0.113.5"}
    assert client.get("/admin/", headers=headers, environ_base=ELSEWHERE).status_code == 200
    assert client.get("/admin/", headers=headers, environ_base=PROXY).status_code == 401
