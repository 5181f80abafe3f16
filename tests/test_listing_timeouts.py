"""A slow query on PostgreSQL: the statement timeout cancels it, the operator reads why,
and the worker goes straight on serving (PostgreSQL only: SQLite has no statement timeout).

The slow view sleeps an hour per row: a query that is not cancelled holds the test
until pytest-timeout fails it, so no clock is read here."""
import psycopg2
import pytest
from sqlalchemy.engine import make_url


@pytest.fixture
def db_url(pg_demo_url):
    """Override of the conftest fixture: PostgreSQL only."""
    url = make_url(pg_demo_url)
    conn = psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname=url.database)
    conn.autocommit = True
    with conn.cursor() as cursor:
        # Every row of this view takes an hour to produce: far past any sane timeout.
        cursor.execute("CREATE VIEW slow_titles AS SELECT id, title, pg_sleep(3600)::text AS waited FROM movies")
    conn.close()
    return pg_demo_url


def test_slow_list_is_cancelled_with_a_clear_message_and_the_worker_is_free(make_app):
    app = make_app(STATEMENT_TIMEOUT_MS=300)
    client = app.test_client()
    response = client.get("/admin/slow_titles/")
    body = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "The query took too long" in body and "Narrow the search" in body
    assert "Traceback" not in body and "Request id" in body
    # Cancelled on the server, not abandoned by the client: nothing still sleeps there.
    assert _still_running(app, "slow_titles") == 0
    # The same worker (and its pooled connections) serves the next request at once.
    for _ in range(6):  # more than the pool: every connection came back clean
        assert client.get("/admin/movies/").status_code == 200


def test_slow_query_as_json_client(make_app):
    client = make_app(STATEMENT_TIMEOUT_MS=300).test_client()
    response = client.get("/admin/slow_titles/", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.get_json()["error"] == "The query took too long"


def _still_running(app, relation: str) -> int:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    conn = psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname=url.database)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s "
                           "AND pid <> pg_backend_pid()", (f"%{relation}%",))
            return cursor.fetchone()[0]
    finally:
        conn.close()
