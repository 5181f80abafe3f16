"""A slow query on PostgreSQL: the statement timeout cancels it, the operator reads why,
and the worker goes straight on serving (PostgreSQL only: SQLite has no statement timeout)."""
import time

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
        # Every row of this view takes 30 s to produce: far past any sane timeout.
        cursor.execute("CREATE VIEW slow_titles AS SELECT id, title, pg_sleep(30)::text AS waited FROM movies")
    conn.close()
    return pg_demo_url


def test_slow_list_is_cancelled_with_a_clear_message_and_the_worker_is_free(make_app):
    app = make_app(STATEMENT_TIMEOUT_MS=300)
    client = app.test_client()
    started = time.monotonic()
    response = client.get("/admin/slow_titles/")
    elapsed = time.monotonic() - started
    body = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "The query took too long" in body and "Narrow the search" in body
    assert "Traceback" not in body and "Request id" in body
    assert elapsed < 20, "the query was not cancelled: the worker waited for pg_sleep"
    # The same worker (and its pooled connections) serves the next request at once.
    for _ in range(6):  # more than the pool: every connection came back clean
        assert client.get("/admin/movies/").status_code == 200


def test_slow_query_as_json_client(make_app):
    client = make_app(STATEMENT_TIMEOUT_MS=300).test_client()
    response = client.get("/admin/slow_titles/", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.get_json()["error"] == "The query took too long"
