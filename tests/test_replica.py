"""DATABASE_REPLICA_URL against a real streaming replica (pg_basebackup): heavy reads go
there while it is fresh, come back to the primary when it lags, is down or has not
replayed the operator's own last write, and nothing is ever written there."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine as plain_engine
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from console.app import create_app
from backoffice.catalog import catalog_health
from backoffice.core.settings import SettingsError, load_settings, normalise_database_url
from backoffice.demo import seed_demo
from backoffice.replica import ReadRouter, Route, read_router, replica_engine
from models.own import init_db
from tests.pg import require_binaries
from tests.pg_replica import start_pair
from testing_support.ports import SERVICE_PORTS, free_port
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
        pair.sql(pair.primary, "ANALYZE", DATABASE)  # the row estimates that make movies "large" below
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


# -- lists, counts and exports of the generated screens ----------------------------------------
#: movies (300 rows) counts as large with this threshold; genres (a few dozen) does not. The
#: demo's declarative file makes titles and genre names searchable.
LARGE = {"DATABASE_REPLICA_MIN_ROWS": 100,
         "BACKOFFICE_CONFIG": str(Path(__file__).resolve().parent.parent / "backoffice" / "demo" / "demo.toml")}


def received(pair) -> None:
    """Wait until the replica has *received* (not necessarily replayed) the primary's WAL."""
    target = pair.sql(pair.primary, "SELECT pg_current_wal_insert_lsn()")[0][0]
    deadline = time.monotonic() + 60
    while not pair.sql(pair.replica, f"SELECT pg_last_wal_receive_lsn() >= '{target}'::pg_lsn")[0][0]:
        assert time.monotonic() < deadline, "the replica did not receive the primary's WAL"
        time.sleep(0.05)


def written_elsewhere(pair, title: str, genre: str | None = None) -> int:
    """Another writer (not the console) adds a movie, and a genre, on the primary."""
    movie = pair.sql(pair.primary, "INSERT INTO movies (title, created_at, updated_at) "
                                   f"VALUES ('{title}', now(), now()) RETURNING id", DATABASE)[0][0]
    if genre is not None:
        pair.sql(pair.primary, f"INSERT INTO genres (id, name) SELECT max(id) + 1, '{genre}' FROM genres", DATABASE)
    return movie


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def listed_count(html: str) -> int:
    found = re.search(r'backoffice-listing-count">\s*([\d,]+) rows', html)
    assert found, "the list shows no count"
    return int(found.group(1).replace(",", ""))


def routes_of(app) -> list[tuple[str, str]]:
    seen = []
    read_router(app).listeners.append(lambda route: seen.append((route.target, route.reason)))
    return seen


def test_a_large_tables_list_count_and_export_are_read_from_the_replica(fresh, monkeypatch, tmp_path):
    app = console(fresh, monkeypatch, tmp_path, DATABASE_REPLICA_MAX_LAG_SECONDS=3600, **LARGE)
    routes = routes_of(app)
    fresh.pause_replay()
    movie = written_elsewhere(fresh, "Qzreplicaprobe", genre="Qzgenreprobe")
    received(fresh)
    on_replica, on_primary = movies_on(fresh, fresh.replica), movies_on(fresh, fresh.primary)
    assert on_replica + 1 == on_primary
    colleague = app.test_client()  # has written nothing through the console
    searched = page(colleague, "/admin/movies/?search=Qzreplica")
    assert "Qzreplicaprobe" not in searched and listed_count(searched) == 0
    assert listed_count(page(colleague, "/admin/movies/")) == on_replica
    export = page(colleague, "/admin/movies/export/csv/")
    assert "Qzreplicaprobe" not in export
    assert len(export.strip().splitlines()) == on_replica + 1  # the header and every replica row
    assert routes and all(route == ("replica", "replica fresh") for route in routes)
    # A small table stays on the primary (and costs no question to the replica).
    asked = len(routes)
    assert "Qzgenreprobe" in page(colleague, "/admin/genres/?search=Qzgenre")
    assert len(routes) == asked
    # The screens that lead to a write read the primary: the new row's details and edit form.
    assert "Qzreplicaprobe" in page(colleague, f"/admin/movies/details/?id={movie}")
    assert "Qzreplicaprobe" in page(colleague, f"/admin/movies/edit/?id={movie}")
    fresh.resume_replay()
    fresh.wait_replayed()
    assert "Qzreplicaprobe" in page(colleague, "/admin/movies/?search=Qzreplica")
    assert listed_count(page(colleague, "/admin/movies/")) == on_primary


def test_an_operator_sees_their_own_edit_on_the_list_at_once_while_replay_is_paused(fresh, monkeypatch, tmp_path):
    app = console(fresh, monkeypatch, tmp_path, DATABASE_REPLICA_MAX_LAG_SECONDS=3600, **LARGE)
    movie = fresh.sql(fresh.primary, "SELECT id FROM movies ORDER BY id LIMIT 1", DATABASE)[0][0]
    operator, colleague = app.test_client(), app.test_client()
    edit = f"/admin/movies/edit/?id={movie}"
    form = dict(form_fields(page(operator, edit)))
    fresh.pause_replay()
    # The write goes to the primary (the replica is read-only: it would have refused it).
    assert operator.post(edit, data={**form, "title": "Qzowneditprobe"}).status_code == 302
    assert fresh.sql(fresh.primary, f"SELECT title FROM movies WHERE id = {movie}", DATABASE)[0][0] == \
        "Qzowneditprobe"
    received(fresh)
    assert fresh.sql(fresh.replica, f"SELECT title FROM movies WHERE id = {movie}", DATABASE)[0][0] != \
        "Qzowneditprobe"
    routes = routes_of(app)
    assert "Qzowneditprobe" in page(operator, "/admin/movies/?search=Qzownedit")
    assert "Qzowneditprobe" in page(operator, "/admin/movies/export/csv/")
    assert routes == [("primary", "own write not replayed")] * 2
    # Nobody else's reads are held back by it: the colleague reads the (paused) replica.
    searched = page(colleague, "/admin/movies/?search=Qzownedit")
    assert "Qzowneditprobe" not in searched and listed_count(searched) == 0
    fresh.resume_replay()
    fresh.wait_replayed()
    del routes[:]
    assert "Qzowneditprobe" in page(operator, "/admin/movies/?search=Qzownedit")
    assert routes == [("replica", "replica fresh")]  # replayed past the write: the replica again


def test_a_lagging_replica_sends_lists_and_exports_to_the_primary(fresh, monkeypatch, tmp_path):
    app = console(fresh, monkeypatch, tmp_path, DATABASE_REPLICA_MAX_LAG_SECONDS=0, **LARGE)
    routes = routes_of(app)
    fresh.pause_replay()
    written_elsewhere(fresh, "Qzlaggingprobe")
    received(fresh)
    client = app.test_client()
    assert "Qzlaggingprobe" in page(client, "/admin/movies/?search=Qzlagging")
    assert "Qzlaggingprobe" in page(client, "/admin/movies/export/csv/")
    assert listed_count(page(client, "/admin/movies/")) == movies_on(fresh, fresh.primary)
    assert set(routes) == {("primary", "replica lagging")}


def test_a_stopped_replica_leaves_lists_and_exports_to_the_primary(fresh, monkeypatch, tmp_path):
    app = console(fresh, monkeypatch, tmp_path, DATABASE_REPLICA_MAX_LAG_SECONDS=3600, **LARGE)
    client = app.test_client()
    assert "Qzstoppedprobe" not in page(client, "/admin/movies/?search=Qzstopped")  # pools the replica
    fresh.replica.stop_server()
    try:
        written_elsewhere(fresh, "Qzstoppedprobe")
        assert "Qzstoppedprobe" in page(client, "/admin/movies/?search=Qzstopped")
        assert "Qzstoppedprobe" in page(client, "/admin/movies/export/csv/")
        assert read_router(app).route().reason == "replica down"
    finally:
        fresh.replica.start_server()


def test_a_replica_that_fails_during_the_read_is_replaced_by_the_primary(fresh, monkeypatch, tmp_path):
    # The router asked a replica that was fine; the read itself then fails (the replica went
    # away in between): the page is read again from the primary, and the replica is skipped.
    app = console(fresh, monkeypatch, tmp_path, DATABASE_REPLICA_MAX_LAG_SECONDS=3600, **LARGE)
    router = read_router(app)
    dead = load_settings({"DATABASE_URL": fresh.primary.url(DATABASE),
                          "DATABASE_REPLICA_URL": fresh.replica.url(DATABASE).replace(
                              f":{fresh.replica.port}/", f":{free_port(SERVICE_PORTS)}/")})  # nothing listens
    gone = replica_engine(dead)
    healthy = router.route
    router.route = lambda min_lsn=None: Route(gone, "replica", "replica fresh")  # what it said a moment ago
    try:
        written_elsewhere(fresh, "Qzfallbackprobe")
        client = app.test_client()
        assert "Qzfallbackprobe" in page(client, "/admin/movies/?search=Qzfallback")
        assert "Qzfallbackprobe" in page(client, "/admin/movies/export/csv/")
        router.route = healthy
        assert router.route().reason == "replica down"  # marked: skipped for the retry interval
    finally:
        router.route = healthy
        gone.dispose()


@pytest.mark.parametrize("value", ["-1", "lots", "1e5"])
def test_a_bad_large_table_threshold_stops_the_start(value):
    with pytest.raises(SettingsError, match="DATABASE_REPLICA_MIN_ROWS"):
        load_settings({"DATABASE_URL": "postgresql://console@db/catalog", "DATABASE_REPLICA_MIN_ROWS": value})
    assert load_settings({"DATABASE_URL": "postgresql://console@db/catalog"}).database_replica_min_rows == 100_000
