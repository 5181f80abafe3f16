"""Operator auth: the three modes, the challenge, accounts, the password cache, the CLI."""
from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner
from werkzeug.security import check_password_hash

import backoffice.auth.accounts as accounts_module
from backoffice.auth.accounts import AccountBook, UsersFileError, read_users_file
from console.cli import main
from backoffice.core.settings import SettingsError

from tests.auth_helpers import ADMIN, ENV, basic, write_users

PROTECTED = ["/admin/", "/admin/movies/", "/admin/movies/details/?id=1", "/static/backoffice.css",
             "/admin/static/bootstrap/bootstrap4/css/bootstrap.min.css", "/no-such-page"]


@pytest.fixture
def db_url(sqlite_demo_url):
    """The auth mechanism does not depend on the database: SQLite keeps these fast."""
    return sqlite_demo_url


# -- auth off ---------------------------------------------------------------------------

def test_auth_off_is_open_with_a_warning_and_a_banner_on_every_page(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="backoffice.auth"):
        app = make_app()
    assert any("operator auth is off" in r.getMessage() for r in caplog.records)
    client = app.test_client()
    for path in ("/admin/", "/admin/movies/", "/admin/genres/new/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "operator auth is off" in response.get_data(as_text=True), path
    assert client.get("/static/backoffice.css").status_code == 200


def test_auth_on_shows_no_banner(make_app):
    client = make_app(**ENV).test_client()
    assert "operator auth is off" not in client.get("/admin/", headers=basic(*ADMIN)).get_data(as_text=True)


# -- fail closed ------------------------------------------------------------------------

def test_required_without_credentials_fails_closed_with_503_everywhere(make_app):
    client = make_app(OPERATOR_AUTH_REQUIRED="1").test_client()
    for path in PROTECTED:
        response = client.get(path)
        assert response.status_code == 503, path
        assert "required but not configured" in response.get_data(as_text=True), path
    # Credentials sent to a console without accounts: still 503, never Flask-BasicAuth's KeyError.
    assert client.get("/admin/", headers=basic("ann", "x")).status_code == 503
    assert client.post("/admin/genres/new/", data={"name": "Noir"}).status_code == 503
    assert client.get("/admin/", headers={"Accept": "application/json"}).get_json()["status"] == 503
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_required_with_credentials_is_simply_on(make_app):
    client = make_app(OPERATOR_AUTH_REQUIRED="1", **ENV).test_client()
    assert client.get("/admin/").status_code == 401
    assert client.get("/admin/", headers=basic(*ADMIN)).status_code == 200


# -- auth on ----------------------------------------------------------------------------

def test_every_route_but_health_needs_credentials(make_app):
    client = make_app(**ENV).test_client()
    for path in PROTECTED:
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"] == 'Basic realm="Backoffice Operators"'
        assert "Sign in with your operator username" in response.get_data(as_text=True)
        assert client.get(path, headers=basic(ADMIN[0], "wrong")).status_code == 401, path
    for path in PROTECTED[:-1]:
        assert client.get(path, headers=basic(*ADMIN)).status_code == 200, path
    assert client.get("/no-such-page", headers=basic(*ADMIN)).status_code == 404
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_unauthenticated_post_is_a_401_not_a_csrf_error(make_app):
    app = make_app(**ENV)
    response = app.test_client().post("/admin/genres/new/", data={"name": "Noir"})
    assert response.status_code == 401


def test_realm_is_quoted_safely(make_app):
    client = make_app(OPERATOR_AUTH_REALM='Ops "East" \\ Zürich', **ENV).test_client()
    header = client.get("/admin/").headers["WWW-Authenticate"]
    assert header == 'Basic realm="Ops \\"East\\" \\\\ Z?rich"'


def test_the_operator_is_known_to_the_rest_of_the_app(make_app, caplog):
    client = make_app(**ENV).test_client()
    with caplog.at_level(logging.INFO, logger="backoffice.request"):
        html = client.get("/admin/", headers=basic(*ADMIN)).get_data(as_text=True)
    assert "ann &middot; admin" in html
    assert [r.operator for r in caplog.records if r.name == "backoffice.request"] == ["ann"]


def test_credentials_are_compared_in_constant_time(make_app, monkeypatch):
    calls = []
    real = accounts_module.hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(accounts_module.hmac, "compare_digest", spy)
    client = make_app(**ENV).test_client()
    assert client.get("/admin/", headers=basic(ADMIN[0], "x")).status_code == 401
    assert client.get("/admin/", headers=basic(ADMIN[0], "x" * 300)).status_code == 401
    # Fixed-length digests are compared, so a guess's length does not reveal the password's length.
    assert len(calls) == 2 and calls[0] == calls[1] and calls[0][0] == calls[0][1]


def test_failed_attempts_are_logged_without_the_password(make_app, caplog):
    client = make_app(**ENV).test_client()
    with caplog.at_level(logging.INFO, logger="backoffice.auth"):
        client.get("/admin/", headers=basic("mallory", "s3cret-guess"), environ_base={"REMOTE_ADDR": "10.1.2.3"})
    failed = [r for r in caplog.records if getattr(r, "event", None) == "auth.failed"]
    assert len(failed) == 1
    assert failed[0].username == "mallory" and failed[0].client_addr == "10.1.2.3"
    assert failed[0].levelno == logging.WARNING
    assert "s3cret-guess" not in caplog.text and all("s3cret-guess" not in str(vars(r)) for r in caplog.records)


# -- users file -------------------------------------------------------------------------

def test_users_file_accounts_sign_in_with_their_roles(make_app, tmp_path):
    users = write_users(tmp_path / "users", {"vera": ("viewer", "pw-vera"), "otto": ("operator", "pw-otto")})
    client = make_app(OPERATOR_AUTH_USERS_FILE=users, **ENV).test_client()
    assert "vera &middot; viewer" in client.get("/admin/", headers=basic("vera", "pw-vera")).get_data(as_text=True)
    assert "otto &middot; operator" in client.get("/admin/", headers=basic("otto", "pw-otto")).get_data(as_text=True)
    assert client.get("/admin/", headers=basic("vera", "pw-otto")).status_code == 401
    assert client.get("/admin/", headers=basic(*ADMIN)).status_code == 200


def test_users_file_alone_turns_auth_on(make_app, tmp_path):
    users = write_users(tmp_path / "users", {"vera": ("viewer", "pw-vera")})
    client = make_app(OPERATOR_AUTH_USERS_FILE=users).test_client()
    assert client.get("/admin/").status_code == 401
    assert client.get("/admin/", headers=basic("vera", "pw-vera")).status_code == 200


def test_bad_users_file_stops_start_up_naming_file_and_line(make_app, tmp_path):
    good = write_users(tmp_path / "good", {"vera": ("viewer", "pw")}).read_text().splitlines()[1]
    path = tmp_path / "users"
    path.write_text("\n".join([
        "# header", good, "no-colons-here", "bob:superuser:" + good.split(":", 2)[2],
        "carl:viewer:plaintext-password", good, "",
    ]))
    with pytest.raises(UsersFileError) as caught:
        make_app(OPERATOR_AUTH_USERS_FILE=path)
    message = str(caught.value)
    assert f"{path}:3: expected username:role:password-hash" in message
    assert f"{path}:4: role 'superuser' is not one of viewer, operator, admin" in message
    assert f"{path}:5: the password is not a werkzeug hash" in message
    assert f"{path}:6: username 'vera' is already defined on line 2" in message
    assert "plaintext-password" not in message and good.split(":", 2)[2] not in message
    assert isinstance(caught.value, SettingsError)  # the CLI turns it into a clean exit


@pytest.mark.parametrize("content, expected", [
    (None, "cannot read the file"),
    ("# nobody yet\n", "holds no accounts"),
])
def test_missing_or_empty_users_file_stops_start_up(make_app, tmp_path, content, expected):
    path = tmp_path / "users"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsersFileError, match=expected):
        make_app(OPERATOR_AUTH_USERS_FILE=path)


def test_users_file_may_not_redefine_the_environment_account(make_app, tmp_path):
    users = write_users(tmp_path / "users", {ADMIN[0]: ("viewer", "pw")})
    with pytest.raises(UsersFileError, match="also OPERATOR_AUTH_USERNAME"):
        make_app(OPERATOR_AUTH_USERS_FILE=users, **ENV)


# -- the password-check cache -----------------------------------------------------------

def test_successful_checks_are_cached_briefly_and_safely(tmp_path, monkeypatch):
    calls = []
    real = accounts_module.verify_password
    monkeypatch.setattr(accounts_module, "verify_password", lambda h, p: calls.append(1) or real(h, p))
    book = AccountBook(read_users_file(write_users(tmp_path / "u", {"vera": ("viewer", "pw-vera")})))
    assert book.check("vera", "pw-vera").role == "viewer"
    assert book.check("vera", "pw-vera").username == "vera"
    assert len(calls) == 1  # the second request paid no key derivation
    assert book.check("vera", "wrong") is None and book.check("vera", "wrong") is None
    assert len(calls) == 3  # failures are never cached
    assert book.check("ver", "apw-vera") is None  # no confusion of username/password boundary
    assert all(b"pw-vera" not in key for key in book._cache)
    book.cache_seconds = 0
    book._cache.clear()
    book.check("vera", "pw-vera")
    book.check("vera", "pw-vera")
    assert len(calls) == 6


def test_cached_success_expires(tmp_path, monkeypatch):
    book = AccountBook(read_users_file(write_users(tmp_path / "u", {"vera": ("viewer", "pw")})), cache_seconds=30)
    now = [1000.0]
    monkeypatch.setattr(accounts_module.time, "monotonic", lambda: now[0])
    calls = []
    real = accounts_module.verify_password
    monkeypatch.setattr(accounts_module, "verify_password", lambda h, p: calls.append(1) or real(h, p))
    book.check("vera", "pw")
    now[0] += 29
    book.check("vera", "pw")
    now[0] += 2
    book.check("vera", "pw")
    assert len(calls) == 2


# -- backoffice hash-password -----------------------------------------------------------

def test_hash_password_prompts_twice_without_echo():
    result = CliRunner().invoke(main, ["hash-password"], input="a long passphrase\na long passphrase\n")
    assert result.exit_code == 0, result.output
    hashed = result.output.strip().splitlines()[-1]
    assert check_password_hash(hashed, "a long passphrase")
    assert "a long passphrase" not in result.output.replace(hashed, "")


def test_hash_password_refuses_a_mismatch_then_accepts():
    result = CliRunner().invoke(main, ["hash-password"], input="one passphrase!\nother passphrase\n"
                                "same passphrase!\nsame passphrase!\n")
    assert result.exit_code == 0
    assert "do not match" in result.output
    assert check_password_hash(result.output.strip().splitlines()[-1], "same passphrase!")


def test_hash_password_from_stdin_prints_a_users_file_line(tmp_path):
    result = CliRunner().invoke(main, ["hash-password", "--stdin", "--username", "vera", "--role", "operator"],
                                input="pass phrase with spaces\n")
    assert result.exit_code == 0, result.output
    path = tmp_path / "users"
    path.write_text(result.stdout)
    [account] = read_users_file(path)
    assert (account.username, account.role) == ("vera", "operator")
    assert check_password_hash(account.secret, "pass phrase with spaces")
    assert account.secret.startswith("scrypt:")


def test_hash_password_refuses_an_empty_password():
    result = CliRunner().invoke(main, ["hash-password", "--stdin"], input="\n")
    assert result.exit_code != 0 and "empty" in result.output
