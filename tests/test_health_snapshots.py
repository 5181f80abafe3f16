"""Health computed once, read everywhere: the snapshot in ``backoffice_health_snapshots``.

Each promise is tried against real parts: two app instances on one database, two
``backoffice catalog-health --store`` processes racing on a real PostgreSQL, a
claim left behind by a process that died.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import psycopg2
import pytest
from sqlalchemy import create_engine, text, update

from backoffice.catalog import catalog_health
from backoffice.core.settings import normalise_database_url
from models.own import health_snapshots

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _stamp(html: str) -> str:
    return re.search(r'<time datetime="([^"]+)"', html).group(1)


def _count(html: str, check: str) -> str:
    row = re.search(rf'<tr id="check-{check}".*?</tr>', html, flags=re.S).group(0)
    return re.search(r'health-count">\s*([^<\s]+)', row).group(1)


def test_a_snapshot_written_by_one_instance_is_read_by_another(make_app, db_url):
    first, second = make_app(), make_app()
    one, two = catalog_health(first), catalog_health(second)
    page = first.test_client().get("/admin/catalog-health/").get_data(as_text=True)
    assert one.computations == 1
    other = second.test_client().get("/admin/catalog-health/").get_data(as_text=True)
    assert two.computations == 0  # served from the stored report, not computed again
    assert _stamp(other) == _stamp(page) and _count(other, "no_genre") == _count(page, "no_genre")

    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE movies SET overview = NULL WHERE id <= 100"))
        missing = conn.execute(text("SELECT count(*) FROM movies WHERE overview IS NULL OR overview = ''")).scalar()
    engine.dispose()
    two.wait_seconds = 600  # a small catalog: the refresh answers within the request
    client = second.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/catalog-health/").get_data(
        as_text=True)).group(1)
    response = client.post("/admin/catalog-health/refresh", data={"csrf_token": token})
    assert response.status_code == 302 and two.computations == 1
    seen_by_first = first.test_client().get("/admin/catalog-health/").get_data(as_text=True)
    assert one.computations == 1  # the first instance did not recompute: it read the other's report
    assert _stamp(seen_by_first) != _stamp(page)
    assert _count(seen_by_first, "missing_overview") == f"{missing:,}"


def test_only_one_claim_at_a_time_and_a_dead_holder_blocks_nobody(make_app, db_url):
    service = catalog_health(make_app())
    store = service.store
    assert store.claim() is True
    assert store.claim() is False  # held (by this very process, as by any other)
    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as conn:  # the holder died long ago: its claim is past the lease
        conn.execute(update(health_snapshots).values(refreshing_by="gone:1",
                                                     refreshing_since=text("'2000-01-01 00:00:00'")))
    engine.dispose()
    assert store.read(service.checks).refreshing is False
    assert store.claim() is True


def test_the_page_says_how_old_the_figures_are_and_that_a_refresh_runs(make_app, db_url):
    app = make_app()
    service = catalog_health(app)
    service.current()
    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as conn:  # another instance is refreshing right now
        conn.execute(update(health_snapshots).values(refreshing_by="elsewhere:42",
                                                     refreshing_since=text("CURRENT_TIMESTAMP")))
    engine.dispose()
    html = app.test_client().get("/admin/catalog-health/").get_data(as_text=True)
    assert re.search(r'class="health-age">\d+ s ago<', html)
    assert "a refresh is running (started by elsewhere:42)" in html
    assert service.computations == 1


def test_a_changed_declaration_is_not_served_the_old_figures(make_app):
    catalog_health(make_app()).current()
    other = catalog_health(make_app(CATALOG_HEALTH_STALE_DAYS=100000))
    snapshot = other.current()
    assert other.computations == 1 and snapshot.report is not None


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_background_computation_has_its_own_timeout(make_app, db_url):
    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE VIEW slow_movies AS SELECT m.id, m.title, m.overview FROM movies m, "
                          "(SELECT pg_sleep(1)) AS s"))
    engine.dispose()
    app = make_app(STATEMENT_TIMEOUT_MS=200, BACKOFFICE_CONFIG=_slow_config())
    snapshot = catalog_health(app).current(wait=None)
    result = snapshot.report.get("slow_overview")
    assert result.status == "ok", result.message  # 1 s is far over the request timeout, within the job's


def _slow_config() -> str:
    import tempfile

    handle = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    handle.write('[health.slow_overview]\nkind = "missing"\ntable = "slow_movies"\nfields = ["overview"]\n')
    handle.close()
    return handle.name


def _store_process(db_url: str, tmp_path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "LOG_LEVEL": "ERROR", "SECRET_KEY": "x",
           "PYTHONPATH": ROOT}
    return subprocess.Popen([sys.executable, "-m", "console.cli", "catalog-health", "--store", "--json"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_refreshing_at_once_compute_once(pg_demo_url, tmp_path):
    engine = create_engine(normalise_database_url(pg_demo_url))
    blocker = psycopg2.connect(pg_demo_url)
    try:
        with blocker.cursor() as cursor:  # the first refresh will wait on this table until we let go
            cursor.execute("LOCK TABLE movie_genres IN ACCESS EXCLUSIVE MODE")
        first = _store_process(pg_demo_url, tmp_path)
        deadline = time.monotonic() + 120
        holder = None
        while holder is None:  # until the first process holds the claim
            assert time.monotonic() < deadline and first.poll() is None, first.stderr.read() if first.poll() else ""
            with engine.connect() as conn:
                holder = conn.execute(text("SELECT refreshing_by FROM backoffice_health_snapshots")).scalar()
            time.sleep(0.1)
        assert holder.endswith(f":{first.pid}")
        second = _store_process(pg_demo_url, tmp_path)
        waiting = second.stderr.readline()  # blocks until the second process found the claim taken
        assert waiting.strip() == f"waiting for the refresh started by {holder}"
    finally:
        blocker.rollback()
        blocker.close()
    out_first, err_first = first.communicate(timeout=300)
    out_second, err_second = second.communicate(timeout=300)
    engine.dispose()
    assert first.returncode == second.returncode == 0, (err_first, err_second)
    assert "computed and stored" in err_first
    assert f"stored by {holder}" in err_second  # it computed nothing itself
    a, b = json.loads(out_first), json.loads(out_second)
    assert a["computed_at"] == b["computed_at"] and a["checks"] == b["checks"]
