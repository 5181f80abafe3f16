"""DATABASE_REPLICA_URL against a real streaming replica (pg_basebackup): heavy reads go
there while it is fresh, come back to the primary when it lags, is down or has not
replayed the operator's own last write, and nothing is ever written there."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine as plain_engine
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from console.app import create_app
from backoffice.catalog import catalog_health
from backoffice.core.settings import load_settings, normalise_database_url
from backoffice.demo import seed_demo
from backoffice.replica import ReadRouter, read_router, replica_engine
from models.own import init_db
from tests.pg import require_binaries
from tests.pg_replica import start_pair
from tests.reflection_walk import form_fields

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MOVIES = 300
DATABASE = "catalog"


@pytest.fixture(scope="module")
def pair():
    pair = start_pair(require_binaries())
    try:
        pair.primary.create_database(DATABASE)
        engine = plain_engine(normalise_database_url(pair.primary.url(DATABASE)))
        seed_demo(engine, movies=MOVIES, seed=7)
        init_db(engine)
        engine.dispose()
        pair.wait_replayed()
        yield pair
    finally:
        pair.stop()


@pytest.fixture
def fresh(pair):
    """Replay running and caught up before and after each test."""
    pair.resume_replay()
    pair.wait_replayed()
    yield pair
    pair.resume_replay()


def console(pair, monkeypatch, tmp_path, **env):
    monkeypatch.chdir(tmp_path)
    values = {"DATABASE_URL": pair.primary.url(DATABASE), "DATABASE_REPLICA_URL": pair.replica.url(DATABASE),
              "SECRET_KEY": "replica-test-secret", "LOG_LEVEL": "WARNING", "CATALOG_HEALTH_CACHE_SECONDS": "0"}
    values.update({k: str(v) for k, v in env.items()})
    return create_app(values)


def movies_on(pair, server) -> int:
    return pair.sql(server, "SELECT count(*) FROM movies", DATABASE)[0][0]


def lagging(pair, extra_movies: int = 3) -> None:
    """Pause replay, then write on the primary; wait until the replica has *received* it."""
    pair.pause_replay()
    pair.sql(pair.primary, "INSERT INTO movies (title, created_at, updated_at) SELECT 'Lag ' || g, now(), now() "
                           f"FROM generate_series(1, {extra_movies}) g", DATABASE)
    target = pair.sql(pair.primary, "SELECT pg_current_wal_insert_lsn()")[0][0]
    import time

    deadline = time.monotonic() + 60
    while not pair.sql(pair.replica, f"SELECT pg_last_wal_receive_lsn() >= '{target}'::pg_lsn")[0][0]:
        assert time.monotonic() < deadline, "the replica did not receive the primary's WAL"
        time.sleep(0.05)


def checked_movies(app) -> int:
    report = catalog_health(app).report(["missing_overview"], refresh=True)
    return report.get("missing_overview").total


def test_health_figures_come_from_a_fresh_replica_and_from_the_primary_when_it_lags(fresh, monkeypatch, tmp_path):
    lagging(fresh)
    on_replica, on_primary = movies_on(fresh, fresh.replica), movies_on(fresh, fresh.primary)
    assert on_replica + 3 == on_primary
    tolerant = console(fresh, monkeypatch, tmp_path, DATABASE_REPLICA_MAX_LAG_SECONDS=3600)
    assert checked_movies(tolerant) == on_replica
    strict = console(fresh, monkeypatch, tmp_path, DATABASE_REPLICA_MAX_LAG_SECONDS=0)
    assert checked_movies(strict) == on_primary
    assert read_router(strict).route().reason == "replica lagging"
    # The CSV export follows the same rule.
    client = tolerant.test_client()
    csv = client.get("/admin/catalog-health/check/missing_overview/csv").get_data(as_text=True)
    assert "Lag 1" not in csv
    fresh.resume_replay()
    fresh.wait_replayed()
    assert "Lag 1" in client.get("/admin/catalog-health/check/missing_overview/csv").get_data(as_text=True)


def test_the_operators_own_write_is_read_from_the_primary_until_the_replica_replays_it(fresh, monkeypatch, tmp_path):
    # Figures are refreshed only when asked: page views start no background refresh of their own.
    app = console(fresh, monkeypatch, tmp_path, DATABASE_REPLICA_MAX_LAG_SECONDS=3600,
                  CATALOG_HEALTH_CACHE_SECONDS=3600)
    movie = fresh.sql(fresh.primary, "SELECT id FROM movies WHERE overview <> '' ORDER BY id LIMIT 1", DATABASE)[0][0]
    before = catalog_health(app).report(["missing_overview"], refresh=True).get("missing_overview").count
    fresh.pause_replay()
    operator, colleague = app.test_client(), app.test_client()
    edit = f"/admin/movies/edit/?id={movie}"
    form = dict(form_fields(operator.get(edit).get_data(as_text=True)))
    assert operator.post(edit, data={**form, "overview": ""}).status_code == 302  # now missing an overview

    def missing_seen_by(client):
        form = dict(form_fields(client.get("/admin/catalog-health/").get_data(as_text=True)))
        assert client.post("/admin/catalog-health/refresh", data=form).status_code == 302
        assert catalog_health(app).join(None)  # the refresh runs in a thread of this process
        return catalog_health(app).latest()  # what the refresh computed and stored

    report = missing_seen_by(operator)
    assert report.get("missing_overview").count == before + 1, "the operator must see their own write"
    report = missing_seen_by(colleague)
    assert report.get("missing_overview").count == before, "others read the (fresh enough) replica"
    fresh.resume_replay()
    fresh.wait_replayed()
    assert read_router(app).route().target == "replica"


def test_a_replica_that_is_down_costs_nothing_but_its_figures(fresh, monkeypatch, tmp_path):
    app = console(fresh, monkeypatch, tmp_path, DATABASE_REPLICA_MAX_LAG_SECONDS=3600)
    expected = movies_on(fresh, fresh.primary)
    fresh.replica.stop_server()
    try:
        assert checked_movies(app) == expected
        assert read_router(app).route().reason == "replica down"
        client = app.test_client()
        assert client.get("/admin/catalog-health/").status_code == 200
        assert client.get("/admin/catalog-health/check/missing_overview/csv").status_code == 200
    finally:
        fresh.replica.start_server()
    # After the retry interval the replica is asked again (a clock the test moves).
    now = [0.0]
    settings = load_settings({"DATABASE_URL": fresh.primary.url(DATABASE),
                              "DATABASE_REPLICA_URL": fresh.replica.url(DATABASE)})
    router = ReadRouter(read_router(app).primary, replica_engine(settings), 3600, clock=lambda: now[0])
    router._down_until = 1.0  # as if it had failed a moment ago
    assert router.route().reason == "replica down"
    now[0] = 2.0
    fresh.wait_replayed()
    assert router.route().target == "replica"
    router.dispose()


def test_nothing_is_ever_written_through_the_replica_engine(fresh):
    # Pointed at a writable server (the primary) by mistake, its sessions still refuse writes,
    # and the router does not read from a server that is not a standby.
    settings = load_settings({"DATABASE_URL": fresh.primary.url(DATABASE),
                              "DATABASE_REPLICA_URL": fresh.primary.url(DATABASE)})
    engine = replica_engine(settings)
    try:
        with pytest.raises(DBAPIError, match="read-only transaction"):
            with engine.begin() as conn:
                conn.execute(text("UPDATE movies SET title = title WHERE id = 1"))
        router = ReadRouter(engine, engine, 3600)
        assert router.route().reason == "not a standby"
    finally:
        engine.dispose()


def test_without_a_replica_every_read_uses_the_primary(fresh, monkeypatch, tmp_path):
    app = console(fresh, monkeypatch, tmp_path, DATABASE_REPLICA_URL="")
    assert read_router(app).replica is None
    assert catalog_health(app).reads is None
    assert checked_movies(app) == movies_on(fresh, fresh.primary)
