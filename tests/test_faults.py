"""Database faults with a real PostgreSQL that the tests stop, restart and cut off."""
import pytest

from console.app import create_app
from backoffice.web import standby

from tests.pg import seeded_cluster

#: A cluster of the module's own, stopped and started again by the tests.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def own_pg():
    """A cluster of this module's own: these tests stop and start it."""
    yield from seeded_cluster("faults", movies=200, seed=5)


def _app(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return create_app({"DATABASE_URL": url, "SECRET_KEY": "k", "LOG_LEVEL": "ERROR"})


def test_starts_while_database_is_down_and_recovers_without_restart(own_pg, tmp_path, monkeypatch):
    server, url = own_pg
    monkeypatch.setattr(standby, "RETRY_SECONDS", 0.0)
    server.stop_server()
    try:
        app = _app(url, tmp_path, monkeypatch)
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["status"] == "unavailable"
        page = client.get("/admin/movies/")
        assert page.status_code == 503
        assert "cannot reach its database" in page.get_data(as_text=True)
        assert "Traceback" not in page.get_data(as_text=True)
    finally:
        server.start_server()
    assert client.get("/admin/movies/").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_killed_connections_are_replaced_and_the_read_succeeds(own_pg, tmp_path, monkeypatch):
    server, url = own_pg
    client = _app(url, tmp_path, monkeypatch).test_client()
    assert client.get("/admin/movies/").status_code == 200
    server.admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = 'faults' AND pid <> pg_backend_pid()")
    response = client.get("/admin/movies/")
    assert response.status_code == 200 and "movies" in response.get_data(as_text=True)


def test_a_killed_pooled_connection_is_replaced_at_checkout_without_a_retry(own_pg, tmp_path, monkeypatch):
    """A write has no retry: the checkout itself must notice that the server ended the
    session while the connection sat in the pool, and hand out a fresh one."""
    from sqlalchemy import text

    server, url = own_pg
    app = _app(url, tmp_path, monkeypatch)
    db = app.extensions["sqlalchemy"]
    with app.app_context():
        before = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        db.session.remove()
        server.admin_sql(f"SELECT pg_terminate_backend({before})")
        for _ in range(50):  # the server writes its notice, then closes the socket
            if not server.admin_sql(f"SELECT 1 FROM pg_stat_activity WHERE pid = {before}"):
                break
        after = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        db.session.remove()
    assert after != before
    # A silent pooled connection is used without a round trip, and still answers.
    with app.app_context():
        assert db.session.execute(text("SELECT pg_backend_pid()")).scalar() == after


def test_database_going_away_mid_run_gives_503_not_500(own_pg, tmp_path, monkeypatch):
    server, url = own_pg
    client = _app(url, tmp_path, monkeypatch).test_client()
    assert client.get("/admin/movies/").status_code == 200
    server.stop_server()
    try:
        response = client.get("/admin/movies/")
        assert response.status_code == 503
        assert "Database unavailable" in response.get_data(as_text=True)
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
    finally:
        server.start_server()
    assert client.get("/admin/movies/").status_code == 200
