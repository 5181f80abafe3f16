"""A failed sign-in costs the same whatever the username: every path runs the same
verifier on hashes of the same method and cost (the timing itself is in
benchmarks/signin_timing.py, not asserted here)."""
from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from backoffice.auth import accounts as accounts_module

from tests.auth_helpers import ADMIN, ENV, basic

DEFAULT_METHOD = generate_password_hash("x").split("$", 1)[0]


@pytest.fixture
def db_url(sqlite_demo_url):
    return sqlite_demo_url


@pytest.fixture
def verifier_calls(monkeypatch):
    calls: list[list[str]] = []
    real = accounts_module.verify_password

    def watched(hashed, password):
        calls[-1].append(accounts_module.hash_method(hashed))
        return real(hashed, password)

    monkeypatch.setattr(accounts_module, "verify_password", watched)
    return calls


def _attempt(client, calls, username, password) -> list[str]:
    calls.append([])
    assert client.get("/admin/", headers=basic(username, password)).status_code == 401
    return calls[-1]


@pytest.mark.parametrize("file_method", [None, "scrypt", "pbkdf2:sha256:600000"])
def test_every_failed_sign_in_runs_the_same_verifier_at_the_same_cost(make_app, tmp_path, verifier_calls,
                                                                        file_method):
    env = dict(ENV, OPERATOR_AUTH_RATE_LIMIT_MAX=1000)
    if file_method:
        users = tmp_path / "users"
        users.write_text(f"vera:viewer:{generate_password_hash('vera pass phrase', method=file_method)}\n")
        env["OPERATOR_AUTH_USERS_FILE"] = str(users)
    client = make_app(**env).test_client()
    paths = {
        "environment account": _attempt(client, verifier_calls, ADMIN[0], "wrong"),
        "unknown name": _attempt(client, verifier_calls, "nobody-by-this-name", "wrong"),
        "long unknown name": _attempt(client, verifier_calls, "x" * 300, "wrong"),
    }
    if file_method:
        paths["users-file account"] = _attempt(client, verifier_calls, "vera", "wrong")
    expected = [generate_password_hash("x", method=file_method or "scrypt").split("$", 1)[0]]
    assert paths == {name: expected for name in paths}, paths
    # And the right passwords still work on every kind of account.
    assert client.get("/admin/", headers=basic(*ADMIN)).status_code == 200
    if file_method:
        assert client.get("/admin/", headers=basic("vera", "vera pass phrase")).status_code == 200


def test_mixed_methods_cost_every_method_on_every_path(make_app, tmp_path, verifier_calls):
    users = tmp_path / "users"
    users.write_text(f"vera:viewer:{generate_password_hash('a', method='pbkdf2:sha256:1000')}\n"
                     f"otto:operator:{generate_password_hash('b', method='scrypt')}\n")
    client = make_app(**ENV, OPERATOR_AUTH_USERS_FILE=str(users)).test_client()
    seen = [sorted(_attempt(client, verifier_calls, name, "wrong")) for name in ("vera", "otto", ADMIN[0], "who")]
    assert len(seen[0]) == 2 and all(s == seen[0] for s in seen), seen
