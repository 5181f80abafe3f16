"""OPERATOR_ALLOWED_NETWORKS: outsiders get a missing page before any sign-in, health stays
open, addresses follow TRUSTED_PROXY_COUNT, bad values stop start-up by name."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from backoffice.auth.networks import NetworkAllowlist
from backoffice.core.settings import SettingsError
from console.cli import main
from tests.auth_helpers import ADMIN, ENV, basic
from tests.conftest import outside_sql

NETWORKS = "10.0.0.0/8, 2001:db8::/32"
INSIDE_V4 = {"REMOTE_ADDR": "10.1.2.3"}
INSIDE_V6 = {"REMOTE_ADDR": "2001:db8::7"}
OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}
OUTSIDE_V6 = {"REMOTE_ADDR": "2001:db9::7"}
PAGES = ["/admin/", "/admin/movies/", "/admin/movies/details/?id=1", "/static/backoffice.css", "/no-such-page"]


@pytest.fixture
def db_url(sqlite_demo_url):
    """The allowlist does not depend on the database: SQLite keeps these fast."""
    return sqlite_demo_url


@pytest.fixture
def client(make_app):
    return make_app(OPERATOR_ALLOWED_NETWORKS=NETWORKS, OPERATOR_AUTH_RATE_LIMIT_MAX=3, **ENV).test_client()


def _without_request_id(text: str) -> str:
    return re.sub(r"[0-9a-f]{8,}-?[0-9a-f-]*", "<id>", text)


def test_an_outsider_gets_exactly_the_missing_page_an_unknown_url_gets(client):
    missing = client.get("/no-such-page", headers=basic(*ADMIN), environ_base=INSIDE_V4)
    assert missing.status_code == 404
    for path in PAGES:
        for who in (OUTSIDE, OUTSIDE_V6):
            # Valid credentials change nothing: the refusal comes before authentication.
            for headers in ({}, basic(*ADMIN), basic("ann", "wrong")):
                reply = client.get(path, headers=headers, environ_base=who)
                assert reply.status_code == 404, (path, who)
                assert "WWW-Authenticate" not in reply.headers
                assert _without_request_id(reply.get_data(as_text=True)) == \
                    _without_request_id(missing.get_data(as_text=True))
                assert sorted(k for k in reply.headers.keys() if k != "Set-Cookie") == \
                    sorted(k for k in missing.headers.keys() if k != "Set-Cookie")
                assert reply.headers["X-Request-Id"]  # still logged and traceable


def test_a_forged_post_from_outside_changes_nothing_and_is_never_a_sign_in_attempt(make_app):
    app = make_app(OPERATOR_ALLOWED_NETWORKS=NETWORKS, OPERATOR_AUTH_RATE_LIMIT_MAX=3, **ENV)
    client = app.test_client()
    for _ in range(10):  # far beyond OPERATOR_AUTH_RATE_LIMIT_MAX=3: never a 429, always the missing page
        for headers in (basic(*ADMIN), basic("ann", "guess")):
            reply = client.post("/admin/genres/new/", data={"name": "Outsider"}, headers=headers,
                                environ_base=OUTSIDE)
            assert reply.status_code == 404
    assert outside_sql(app, "SELECT count(*) AS n FROM genres WHERE name = 'Outsider'")[0]["n"] == 0


def test_operators_inside_the_networks_sign_in_as_usual(client):
    for who in (INSIDE_V4, INSIDE_V6, {"REMOTE_ADDR": "::ffff:10.9.9.9"}):
        assert client.get("/admin/", environ_base=who).status_code == 401  # the normal challenge
        assert client.get("/admin/movies/", headers=basic(*ADMIN), environ_base=who).status_code == 200


def test_health_endpoints_answer_everyone(client):
    for who in (OUTSIDE, OUTSIDE_V6):
        assert client.get("/healthz", environ_base=who).status_code == 200
        assert client.get("/readyz", environ_base=who).status_code == 200


def test_the_client_address_follows_trusted_proxy_count(make_app):
    behind_proxy = make_app(OPERATOR_ALLOWED_NETWORKS=NETWORKS, TRUSTED_PROXY_COUNT=1, **ENV).test_client()
    proxy = {"REMOTE_ADDR": "127.0.0.1"}  # not in the list: the proxy's own address does not count
    ok = behind_proxy.get("/admin/", headers={**basic(*ADMIN), "X-Forwarded-For": "10.4.4.4"}, environ_base=proxy)
    assert ok.status_code == 200
    refused = behind_proxy.get("/admin/", headers={**basic(*ADMIN), "X-Forwarded-For": "203.0.113.9"},
                               environ_base=proxy)
    assert refused.status_code == 404
    # A client adding its own X-Forwarded-For before the proxy's: only the proxy's entry is believed.
    spoofed = behind_proxy.get("/admin/", headers={**basic(*ADMIN), "X-Forwarded-For": "10.4.4.4, 203.0.113.9"},
                               environ_base=proxy)
    assert spoofed.status_code == 404

    direct = make_app(OPERATOR_ALLOWED_NETWORKS=NETWORKS, **ENV).test_client()  # no proxy trusted
    forged = direct.get("/admin/", headers={**basic(*ADMIN), "X-Forwarded-For": "10.4.4.4"}, environ_base=OUTSIDE)
    assert forged.status_code == 404


def test_unset_allows_every_address(make_app):
    client = make_app(**ENV).test_client()
    assert client.get("/admin/", headers=basic(*ADMIN), environ_base=OUTSIDE).status_code == 200


@pytest.mark.parametrize("value, says", [
    ("10.0.0.0/8,intranet", "'intranet' is neither"),
    ("10.1.2.3/8", "write 10.0.0.0/8 for the whole network"),
    ("2001:db8::1/32", "has host bits set"),
    ("10.0.0.0/33", "'10.0.0.0/33' is neither"),
    (" , ", "at least one network"),
])
def test_bad_values_stop_start_up_naming_the_variable(make_app, value, says):
    with pytest.raises(SettingsError) as error:
        make_app(OPERATOR_ALLOWED_NETWORKS=value)
    text = str(error.value)
    assert "OPERATOR_ALLOWED_NETWORKS=" in text and says in text


def test_the_cli_refuses_a_bad_value_before_serving(db_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("OPERATOR_ALLOWED_NETWORKS", "10.0.0.0/8;192.168.0.0/16")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code != 0
    assert "OPERATOR_ALLOWED_NETWORKS" in result.output


def test_unreadable_addresses_are_outside_every_network():
    allowlist = NetworkAllowlist(["0.0.0.0/0", "::/0"])
    assert allowlist.allows("192.0.2.1") and allowlist.allows("2001:db8::1") and allowlist.allows("fe80::1%eth0")
    for address in (None, "", "unknown", "10.0.0.1, 10.0.0.2", "not-an-ip"):
        assert not allowlist.allows(address), address
