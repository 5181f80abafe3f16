"""Fixtures: real SQLite and a real throwaway PostgreSQL, one app factory.

``db_url`` runs a test on both databases (each test gets its own copy of the
seeded demo catalog); ``make_app(**env)`` builds a console from an environment
mapping (the process environment is never read by the app under test);
``redis_server`` / ``redis_url`` give a real Redis shared by the session.

Markers follow from the fixtures a test uses (see ``pytest_collection_modifyitems``):
a test on the PostgreSQL catalog is marked ``postgres``, one on Redis ``redis``, one
driving Chromium ``browser`` (and ``slow``), so ``-m "not postgres"`` really leaves them out.
"""
from __future__ import annotations

import gc
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from console.app import create_app
from backoffice.demo import seed_demo
from backoffice.core.settings import normalise_database_url
from models.own import init_db

from tests import tracked_files
from tests.pg import PostgresServer, require_binaries
from tests.redis_server import RedisServer, redis_or_skip

_TRACKED = pytest.StashKey[dict]()
DEMO_MOVIES = 2000
DEMO_SEED = 42


#: Fixtures that imply a marker. A module-scoped cluster of a test module's own
#: (``own_pg``) counts too; so does the ``postgresql`` case of ``db_url``.
MARKER_FIXTURES = {
    "postgres": {"pg_server", "pg_demo_template", "pg_demo_url", "own_pg"},
    "redis": {"redis_server", "redis_url"},
    "browser": {"page", "context", "new_context", "browser", "browser_type_launch_args"},
}


_E2E = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        needs = {marker for marker, names in MARKER_FIXTURES.items() if fixtures & names}
        if params.get("db_url") == "postgresql" or \
                getattr(getattr(item, "module", None), "CONSOLE_DATABASE", None) == "postgresql":
            needs.add("postgres")
        # Everything in tests/e2e runs a live server for a browser, also the few tests that
        # use no Playwright fixture; a browser test is never part of the quick loop.
        if _E2E in Path(str(item.path)).parents or "browser" in needs:
            needs |= {"browser", "slow"}
        for marker in sorted(needs - {m.name for m in item.iter_markers()}):
            item.add_marker(marker)


def pytest_sessionstart(session):
    session.config.stash[_TRACKED] = tracked_files.snapshot()


def pytest_sessionfinish(session, exitstatus):
    # Screenshots, seeded databases and reports belong in build/, instance/ or tmp_path:
    # a run that changed the checkout fails, naming the files.
    written = tracked_files.written_since(session.config.stash.get(_TRACKED, None))
    if written:
        session.config.get_terminal_writer().line(
            "\nERROR: the test run wrote files in the checkout (tests must write under build/, "
            "instance/ or tmp_path; or were they edited during the run?):\n  " + "\n  ".join(written), red=True)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def pg_server():
    server = PostgresServer.start(require_binaries())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server():
    """One redis-server for the session, on loopback, without persistence."""
    server = RedisServer.start(redis_or_skip())
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The session's Redis, emptied for this test."""
    redis_server.flush()
    return redis_server.url


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
        pg_server.drop_database(name)
    except Exception:  # the session's cluster goes away whole at the end anyway
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
        if connection.dialect.name == "postgresql":
            # A lock a leaked transaction holds fails the test in a minute instead of hanging
            # the run (a wait in the driver is not interrupted by pytest-timeout).
            connection.exec_driver_sql("SET LOCAL lock_timeout = '60s'")
        result = connection.execute(text(sql), params)
        return result.mappings().all() if result.returns_rows else None


@pytest.fixture(scope="module", autouse=True)
def _collect_garbage_between_files():
    """Each file's consoles are garbage once it ends: collect them here, between files.

    ``create_app()`` hands its objects to the oldest generation unscanned
    (backoffice/web/startup.py): right for a server, which builds one console, but a test
    process builds hundreds. Without this, their garbage piles up there for dozens of files
    and goes in one full collection of 10-20 s at an arbitrary moment (measured), possibly
    inside a request, whose database deadline (STATEMENT_TIMEOUT_MS + 1 s) it then exceeds:
    a 503 that says nothing about the code under test. Between files it takes under a second."""
    yield
    gc.collect()


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
    """Path of a file in tests/fixtures/ (the public sample databases, kept in the repository)."""
    path = Path(__file__).resolve().parent / "fixtures" / name
    assert path.exists(), f"tests/fixtures/{name} is missing from the checkout"
    return path
