"""Fixtures: real SQLite and a real throwaway PostgreSQL, one app factory.

``db_url`` runs a test on both databases (each test gets its own copy of the
seeded demo catalog); ``make_app(**env)`` builds a console from an environment
mapping (the process environment is never read by the app under test).
"""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from console.app import create_app
from backoffice.demo import seed_demo
from backoffice.core.settings import normalise_database_url
from models.own import init_db

from tests.pg import PostgresServer, find_binaries, postgres_required

DEMO_MOVIES = 2000
DEMO_SEED = 42


@pytest.fixture(scope="session")
def pg_server():
    bindir = find_binaries()
    if bindir is None:
        if postgres_required():
            pytest.fail("BACKOFFICE_REQUIRE_POSTGRES=1 but no PostgreSQL server binaries (pg_ctl) were found")
        pytest.skip("PostgreSQL server binaries (pg_ctl, initdb) are not installed on this machine")
    server = PostgresServer.start(bindir)
    yield server
    server.stop()


def _seed(url: str):
    engine = create_engine(normalise_database_url(url))
    try:
        catalog = seed_demo(engine, movies=DEMO_MOVIES, seed=DEMO_SEED)
        init_db(engine)
    finally:
        engine.dispose()
    return catalog


@pytest.fixture(scope="session")
def pg_demo_template(pg_server):
    """A database holding the seeded demo catalog, cloned for each test."""
    url = pg_server.create_database("demo_template")
    catalog = _seed(url)
    return "demo_template", catalog


@pytest.fixture(scope="session")
def sqlite_demo_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite-template") / "demo.sqlite"
    catalog = _seed(f"sqlite:///{path}")
    return path, catalog


@pytest.fixture
def pg_demo_url(pg_server, pg_demo_template):
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name, template=pg_demo_template[0])
    yield url
    try:
        pg_server.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception:
        pass


@pytest.fixture
def sqlite_demo_url(sqlite_demo_template, tmp_path):
    path = tmp_path / "demo.sqlite"
    shutil.copyfile(sqlite_demo_template[0], path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """The demo catalog on SQLite, then on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_demo_url" if request.param == "sqlite" else "pg_demo_url")


@pytest.fixture
def demo_counts(sqlite_demo_template):
    """Exact planted defect counts of the demo catalog every test database holds."""
    return sqlite_demo_template[1].counts


@pytest.fixture
def make_app(db_url, monkeypatch, tmp_path):
    """Build a console on this test's database from an environment mapping."""
    monkeypatch.chdir(tmp_path)

    def factory(**env):
        values = {"DATABASE_URL": db_url, "SECRET_KEY": "test-secret-key", "LOG_LEVEL": "WARNING"}
        values.update({k: str(v) for k, v in env.items() if v is not None})
        app = create_app(values)
        app.config["TESTING"] = True
        return app

    return factory


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_ENGINES: dict = {}


def outside_sql(app, sql: str, **params):
    """Run SQL on the app's database through a separate engine, as a DBA or another
    system would (the console's own engine refuses unaudited writes). Returns the
    rows as mappings for a SELECT, else None."""
    from sqlalchemy import text

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = create_engine(url)
    with engine.begin() as connection:
        result = connection.execute(text(sql), params)
        return result.mappings().all() if result.returns_rows else None


@pytest.fixture(autouse=True)
def _dispose_outside_engines():
    yield
    while _ENGINES:
        _ENGINES.popitem()[1].dispose()


def csrf_token(client, url: str) -> str:
    """Fetch ``url`` and return the CSRF token of its first form."""
    import re

    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def shared_fixture(name: str) -> Path:
    """Path of a file in ../shared/fixtures (the public sample databases)."""
    here = Path(__file__).resolve().parent.parent
    for root in (here.parent / "shared" / "fixtures", here / "shared" / "fixtures"):
        if (root / name).exists():
            return root / name
    pytest.skip(f"shared fixture {name} is not available next to the repository")
