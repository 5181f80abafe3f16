import os
import sqlite3
from pathlib import Path

import pytest

from console.app import create_app


def test_healthz_needs_no_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_ok_when_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_readyz_503_when_database_is_gone(pg_server, pg_demo_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": pg_demo_url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    name = pg_demo_url.rsplit("/", 1)[1]
    pg_server.admin_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and "database did not answer" in body["reason"]
    assert client.get("/healthz").status_code == 200


def _sqlite_app(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    client = app.test_client()
    assert client.get("/readyz").status_code == 200  # and a pooled connection to the file
    return client, Path(url.removeprefix("sqlite:///"))


@pytest.mark.parametrize("how", ["overwritten", "replaced"])
def test_readyz_503_when_the_sqlite_file_is_garbage(sqlite_demo_url, tmp_path, monkeypatch, how):
    client, path = _sqlite_app(sqlite_demo_url, tmp_path, monkeypatch)
    garbage = os.urandom(64 * 1024)
    if how == "overwritten":  # same file, other bytes
        path.write_bytes(garbage)
    else:  # another file renamed over it: pooled connections still read the old one
        (tmp_path / "new.sqlite").write_bytes(garbage)
        os.replace(tmp_path / "new.sqlite", path)
    response = client.get("/readyz")
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["status"] == "unavailable"
    assert client.get("/healthz").status_code == 200


def test_readyz_503_when_the_sqlite_file_is_removed_and_does_not_recreate_it(sqlite_demo_url, tmp_path,
                                                                              monkeypatch):
    client, path = _sqlite_app(sqlite_demo_url, tmp_path, monkeypatch)
    path.unlink()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "does not exist" in response.get_json()["reason"]
    assert not path.exists()


def test_readyz_503_when_the_console_table_is_gone_from_the_sqlite_file(sqlite_demo_url, tmp_path, monkeypatch):
    client, path = _sqlite_app(sqlite_demo_url, tmp_path, monkeypatch)
    # A database of the right kind without the console's tables (a wrong file put in place).
    with sqlite3.connect(tmp_path / "other.sqlite") as other:
        other.execute("CREATE TABLE movies (id INTEGER PRIMARY KEY)")
    os.replace(tmp_path / "other.sqlite", path)
    assert client.get("/readyz").status_code == 503


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz")
    assert len(response.headers["X-Request-Id"]) == 32
    echoed = client.get("/healthz", headers={"X-Request-Id": "abc12345-proxy"})
    assert echoed.headers["X-Request-Id"] == "abc12345-proxy"
    forged = client.get("/healthz", headers={"X-Request-Id": "<script>"})
    assert forged.headers["X-Request-Id"] != "<script>"
