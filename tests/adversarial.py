"""Our own adversarial schemas (tests/fixtures/adversarial/): one app factory and one
fixture per database, shared by the any-row and odd-value tests."""
from __future__ import annotations

import re
import sqlite3

import pytest

from console.app import create_app
from tests.conftest import shared_fixture
from tests.reflection_walk import load_sql_file

__all__ = ["adversarial_app", "sqlite_url", "pg_url"]


def adversarial_app(url, **env):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test-secret-key", "LOG_LEVEL": "WARNING", **env})
    app.config["TESTING"] = True
    return app


@pytest.fixture
def sqlite_url(tmp_path):
    path = tmp_path / "adversarial.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(shared_fixture("adversarial/sqlite.sql").read_text(encoding="utf-8"))
    return f"sqlite:///{path}"


@pytest.fixture
def pg_url(pg_server, request):
    name = "adv_" + re.sub(r"\W", "", request.node.name)[-40:].lower()
    pg_server.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return load_sql_file(pg_server, name, shared_fixture("adversarial/postgresql.sql"))
