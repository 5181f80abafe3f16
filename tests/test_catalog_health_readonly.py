"""Catalog health is read-only by construction, and a slow check times out alone."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, exc, text

from backoffice.catalog import catalog_health
from backoffice.catalog.runner import is_timeout, read_only
from console.cli import main
from backoffice.core.settings import normalise_database_url

#: A view that takes seconds to answer, whatever the database.
SLOW_VIEW = {
    "postgresql": "CREATE VIEW slow_movies AS SELECT m.id, m.title, m.overview FROM movies m, "
                  "(SELECT pg_sleep(5)) AS s",
    "sqlite": "CREATE VIEW slow_movies AS SELECT m.id, m.title, m.overview FROM movies m WHERE (WITH RECURSIVE "
              "r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 200000000) SELECT count(*) FROM r) > 0",
}
SLOW_CHECK = '''
[health.slow_overview]
kind = "missing"
table = "slow_movies"
fields = ["overview"]
timeout_ms = 300
'''


@pytest.fixture
def engine(db_url):
    engine = create_engine(normalise_database_url(db_url))
    yield engine
    engine.dispose()


def test_checks_cannot_write(engine):
    with read_only(engine, 1000) as conn:
        before = conn.execute(text("SELECT title FROM movies WHERE id = 1")).scalar()
        with pytest.raises(exc.DBAPIError) as caught:
            conn.execute(text("UPDATE movies SET title = 'changed' WHERE id = 1"))
    assert re.search(r"read-only transaction|readonly database", str(caught.value.orig))
    with engine.begin() as conn:  # the pooled connection is writable again afterwards
        conn.execute(text("UPDATE movies SET title = 'changed' WHERE id = 1"))
        assert conn.execute(text("SELECT title FROM movies WHERE id = 1")).scalar() == "changed" != before


def test_a_slow_check_times_out_and_the_rest_renders(engine, make_app, tmp_path, demo_counts):
    with engine.begin() as conn:
        conn.execute(text(SLOW_VIEW[engine.dialect.name]))
    (tmp_path / "health.toml").write_text(SLOW_CHECK)
    app = make_app(BACKOFFICE_CONFIG=str(tmp_path / "health.toml"))
    html = app.test_client().get("/admin/catalog-health/").get_data(as_text=True)
    slow = re.search(r'<tr id="check-slow_overview".*?</tr>', html, flags=re.S).group(0)
    assert 'data-status="timed out"' in slow and ">timed out</span>" in slow
    report = catalog_health(app).report()
    # Interrupted, not waited for: a statement left to run would have ended "ok" (the report
    # waits for every unit), and on PostgreSQL the server is not still running it either.
    assert report.get("slow_overview").message == "timed out after 300 ms"
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                     "AND query LIKE '%slow_movies%' AND pid <> pg_backend_pid()")).scalar() == 0
    assert report.get("no_director").count == demo_counts.no_director  # the others are unaffected
    assert sum(r.status == "ok" for r in report.results) == 12
    detail = app.test_client().get("/admin/catalog-health/check/slow_overview/")
    assert detail.status_code == 200 and "timed out" in detail.get_data(as_text=True)
    assert app.test_client().get("/admin/catalog-health/check/slow_overview/csv").status_code == 503


def test_the_cli_exits_3_when_a_check_timed_out(engine, make_app, tmp_path, monkeypatch, db_url):
    with engine.begin() as conn:
        conn.execute(text(SLOW_VIEW[engine.dialect.name]))
    (tmp_path / "health.toml").write_text(SLOW_CHECK)
    # Flask's CLI runner hands the command this test's app (as `backoffice` builds it from the environment)
    app = make_app(BACKOFFICE_CONFIG=str(tmp_path / "health.toml"), LOG_LEVEL="ERROR")
    result = app.test_cli_runner().invoke(main, ["catalog-health", "--check", "slow_overview", "--check", "no_genre"])
    assert result.exit_code == 3, result.output
    assert re.search(r"slow_overview\s+timed out", result.stdout)
    assert "incomplete: slow_overview" in result.stderr


def test_the_statement_timeout_setting_applies_to_every_check(engine, make_app):
    with engine.begin() as conn:
        conn.execute(text(SLOW_VIEW[engine.dialect.name]))
    app = make_app(STATEMENT_TIMEOUT_MS=200)
    service = catalog_health(app)
    with pytest.raises(exc.DBAPIError) as caught, read_only(service.engine, service.timeout_ms) as conn:
        conn.execute(text("SELECT count(*) FROM slow_movies")).scalar()
    assert is_timeout(caught.value)


def test_a_failing_check_is_shown_as_failed_and_the_rest_renders(engine, make_app, tmp_path, demo_counts):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    (tmp_path / "health.toml").write_text('[health.empty_notes]\nkind = "missing"\ntable = "notes"\n'
                                          'fields = ["body"]\n')
    app = make_app(BACKOFFICE_CONFIG=str(tmp_path / "health.toml"))
    with engine.begin() as conn:  # the table disappears while the console runs
        conn.execute(text("DROP TABLE notes"))
    response = app.test_client().get("/admin/catalog-health/")
    assert response.status_code == 200
    row = re.search(r'<tr id="check-empty_notes".*?</tr>', response.get_data(as_text=True), flags=re.S).group(0)
    assert 'data-status="failed"' in row and "notes" in row
    report = catalog_health(app).report()
    assert report.get("no_genre").count == demo_counts.no_genre
