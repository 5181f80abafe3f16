"""CSV export without a row cap: complete, narrowed like the list, formula-safe, streamed, audited."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from audit_hooks.chain import verify
from audit_hooks.signing import keyring_for
from backoffice.core.settings import normalise_database_url

from tests.conftest import outside_sql

#: More rows than the old cap of 10,000.
EXTRA = 24_000
FORMULA = '=HYPERLINK("http://evil") Exported'


def _fill(app) -> None:
    if app.extensions["backoffice.reflection"].dialect == "postgresql":
        outside_sql(app, "INSERT INTO people (name) SELECT 'Exported ' || g FROM generate_series(1, :n) g", n=EXTRA)
    else:
        outside_sql(app, "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < :n) "
                         "INSERT INTO people (name) SELECT 'Exported ' || n FROM r", n=EXTRA)
    outside_sql(app, "INSERT INTO people (name) VALUES (:name)", name=FORMULA)


def _filter_index(app, screen: str, column: str, operation: str) -> int:
    view = next(v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None) == screen)
    return next(i for i, f in enumerate(view._filters)
                if getattr(f, "column", None) is not None and f.column.key == column and f.operation() == operation)


def _events(app, action="export"):
    rows = outside_sql(app, "SELECT * FROM backoffice_audit_events WHERE action = :a ORDER BY id", a=action)
    return [{**row, "changes": row["changes"] if isinstance(row["changes"], dict) else json.loads(row["changes"])}
            for row in rows]


def test_an_export_past_the_old_cap_streams_completely_with_search_and_filters(app, client):
    _fill(app)
    threshold = outside_sql(app, "SELECT min(id) + 100 AS t FROM people WHERE name LIKE 'Exported%'")[0]["t"]
    expected = outside_sql(app, "SELECT id FROM people WHERE lower(name) LIKE '%exported%' AND id > :t "
                                "ORDER BY id", t=threshold)
    assert len(expected) > 10_000
    index = _filter_index(app, "people", "id", "greater than")
    response = client.get("/admin/people/export/csv/", query_string={"search": "exported", f"flt0_{index}": threshold})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    header, body = rows[0], rows[1:]
    ids = [int(r[header.index("Id")]) for r in body]
    assert ids == [r["id"] for r in expected]  # every match, in the list's order, nothing else
    names = [r[header.index("Name")] for r in body]
    assert "'" + FORMULA in names and FORMULA not in names  # a spreadsheet will not run it

    [event] = _events(app)
    details = event["changes"]["new"]
    assert event["entity_type"] == "people" and event["actor"]
    assert details["rows"] == len(expected) and details["complete"] is True
    assert details["search"] == "exported"
    assert details["filters"] == [{"column": "id", "operation": "greater than", "value": str(threshold)}]
    engine = create_engine(normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"]))
    keyring = keyring_for(app.config["BACKOFFICE_SETTINGS"], Path(app.instance_path))
    with engine.connect() as conn:
        assert verify(conn, keyring).ok  # chained and signed like every other event
    engine.dispose()


def test_a_client_that_hangs_up_is_recorded_with_what_it_received(app, client):
    _fill(app)
    response = client.get("/admin/people/export/csv/", buffered=False)
    first = next(iter(response.response))
    response.close()
    assert 0 < len(first) < 200_000
    [event] = _events(app)
    assert event["changes"]["new"]["complete"] is False
    assert 0 < event["changes"]["new"]["rows"] < EXTRA


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("copy_export", [True, False], ids=["copy", "cursor"])
def test_postgresql_streams_the_export_while_the_rows_are_still_in_the_database(app, client, copy_export):
    """PostgreSQL writes the CSV itself (COPY) when every cell has an exact SQL rendering
    (tests/test_export_copy.py); otherwise the rows come through a server-side cursor."""
    _fill(app)
    view = next(v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None) == "people")
    view.copy_export = copy_export
    response = client.get("/admin/people/export/csv/", buffered=False)
    chunks = iter(response.response)
    next(chunks)  # the first 64 kB are out; the rest of the rows are still in the database
    reading = outside_sql(app, "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                               "AND pid <> pg_backend_pid() AND query LIKE :q",
                          q="COPY (%" if copy_export else "FETCH FORWARD%")
    assert reading  # COPY still sending, or FETCH by FETCH
    rest = b"".join(chunks)
    response.close()
    assert rest.count(b"\n") > 10_000


def test_an_export_leaves_no_transaction_open_behind_it(app, client):
    """The body streams after the view's request context ended: its session must still be
    closed when the stream ends, or a pooled connection stays idle in transaction (holding
    its locks: a DROP INDEX or ALTER waits on it) until garbage collection."""
    if app.extensions["backoffice.reflection"].dialect != "postgresql":
        pytest.skip("pg_stat_activity is PostgreSQL's")
    import gc
    gc.disable()  # what would end it by luck
    try:
        for url in ("/admin/movies/export/csv/", "/admin/people/export/csv/?search=a"):
            with client.get(url) as response:
                assert response.status_code == 200 and response.get_data()
            left = outside_sql(app, "SELECT state, query FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'")
            assert left == [], left
    finally:
        gc.enable()


def test_the_audit_history_export_is_an_export_event_too(app, client):
    _fill(app)
    client.get("/admin/people/export/csv/").get_data()
    response = client.get("/admin/audit/export.csv", query_string={"action": "export"})
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 2 and rows[1][rows[0].index("action")] == "export"
    events = _events(app)
    assert [e["entity_type"] for e in events] == ["people", "backoffice_audit_events"]
    assert events[1]["changes"]["new"]["filters"] == {"action": "export"}
    assert events[1]["changes"]["new"]["rows"] == 1


def test_rows_read_as_tuples_give_the_same_file_as_rows_read_as_models(app, client):
    outside_sql(app, "UPDATE movies SET title = :t WHERE id = 7", t=FORMULA)
    view = next(v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None) == "movies")
    assert view._plain_columns([n for n, _l in view._export_columns]) is not None  # the fast path applies
    fast = client.get("/admin/movies/export/csv/?sort=3&desc=1").get_data(as_text=True)
    view._plain_columns = lambda columns: None  # every cell through get_export_value, as Flask-Admin does
    slow = client.get("/admin/movies/export/csv/?sort=3&desc=1").get_data(as_text=True)
    assert fast == slow
    assert "'" + FORMULA in [row[3] for row in csv.reader(io.StringIO(fast))]
    assert len(fast.splitlines()) == outside_sql(app, "SELECT count(*) AS n FROM movies")[0]["n"] + 1
