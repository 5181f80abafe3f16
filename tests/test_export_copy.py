"""PostgreSQL writing the export's CSV (views/export_copy.py) gives the very file the rows
read in Python give: every type it takes on, hostile text, infinities, odd time zones.

The file of each screen is exported twice, once by COPY and once with ``copy_export`` off
(the rows read and written by the worker), and the two are compared byte for byte.
"""
from __future__ import annotations

import csv
import http.client
import io
import json
import re
import time

import psycopg2
import pytest
from werkzeug.test import EnvironBuilder

from console.app import create_app
from tests.conftest import outside_sql
from tests.gunicorn_server import Gunicorn
import views.export as export_module

pytestmark = pytest.mark.postgres

TEXTS = ["", "plain", "=1+1", "-5", "+1.5e3", "-1.", "--1", "-", "+", "@SUM(A1)", "\tTab", "\rcr", "-٣",
         "a,b", 'quote"d', "line\nbreak", "crlf\r\nend", " spaced ", "ünïcødé ✓", "NULL", "\\N", "1e5",
         "=HYPERLINK(\"http://evil\")", "'already"]

SCHEMA = """
CREATE TYPE mood AS ENUM ('ok', '=bad', '-meh');
CREATE TABLE odd_cells (
    id serial PRIMARY KEY,
    small smallint, big bigint, flag boolean,
    name varchar(200), body text, feeling mood,
    day date, moment timestamp, stamped timestamptz,
    token uuid, amount numeric, price numeric(12, 4)
);
CREATE TABLE float_cells (id serial PRIMARY KEY, ratio double precision, label text);
"""

ROWS = [
    # small, big, flag, day, moment, stamped, token, amount, price
    (0, -9223372036854775808, True, "2024-02-29", "2024-01-02 03:04:05", "2024-01-02 03:04:05+00",
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "0.0000001", "1.5"),
    (-5, 9223372036854775807, False, "infinity", "2024-01-02 03:04:05.000001", "1890-06-01 12:00:00+00",
     None, "NaN", "-1.5"),
    (None, None, None, "-infinity", "infinity", "infinity", None, "Infinity", None),
    (32767, 1, True, "0001-01-01", "-infinity", "-infinity", None, "-Infinity", "0"),
    (1, 2, False, None, None, "2024-07-01 23:59:59.5+05:30", None, "100000000000000000000", "12345678.1234"),
    (2, 3, True, "9999-12-31", "1999-12-31 23:59:59.999999", None, None, "-0.0", "-0.0001"),
]


@pytest.fixture
def odd_url(pg_server, request):
    name = "copy_" + re.sub(r"\W", "", request.node.name)[-40:].lower()
    pg_server.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    url = pg_server.create_database(name)
    # A zone with a negative half-hour offset, and local mean time (seconds) before 1900
    pg_server.admin_sql(f"ALTER DATABASE \"{name}\" SET timezone = 'America/St_Johns'")
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(SCHEMA)
        moods = ["ok", "=bad", "-meh", None]
        for index, text in enumerate(TEXTS):
            row = ROWS[index % len(ROWS)]
            cur.execute("INSERT INTO odd_cells (small, big, flag, name, body, feeling, day, moment, stamped, token,"
                        " amount, price) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        (row[0], row[1], row[2], text, TEXTS[-1 - index], moods[index % 4], *row[3:]))
        cur.execute("INSERT INTO float_cells (ratio, label) VALUES (0.1, '=x'), (1e15, 'a'), (3.0, NULL)")
    conn.close()
    return url


def _app(url):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test-secret-key", "LOG_LEVEL": "WARNING"})
    app.config["TESTING"] = True
    return app


def _view(app, screen):
    return next(v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None) == screen)


@pytest.fixture
def copies(monkeypatch):
    """How many exports PostgreSQL wrote itself (the real CopyStream, counted)."""
    made = []

    class Counted(export_module.CopyStream):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(export_module, "CopyStream", Counted)
    return made


def _export(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data()


def test_the_database_writes_the_same_file_as_the_rows_read_in_python(odd_url, copies):
    app = _app(odd_url)
    client = app.test_client()
    view = _view(app, "odd_cells")
    copied = _export(client, "/admin/odd_cells/export/csv/")
    assert len(copies) == 1 and copies[0].rows == len(TEXTS)
    view.copy_export = False
    read = _export(client, "/admin/odd_cells/export/csv/")
    assert len(copies) == 1  # the second file came from the rows
    assert copied == read
    rows = list(csv.reader(io.StringIO(copied.decode("utf-8"))))
    header, body = rows[0], rows[1:]
    assert len(body) == len(TEXTS)
    names = body and [r[header.index("Name")] for r in body]
    assert "'=1+1" in names and "-5" in names and "'-٣" in names and "'@SUM(A1)" in names
    assert "0.0000001" in [r[header.index("Amount")] for r in body]  # never 1E-7
    stamped = [r[header.index("Stamped")] for r in body]
    assert any(s.endswith("-03:30") or s.endswith("-02:30") for s in stamped)  # St. John's offset
    assert any(re.search(r"[+-]\d\d:\d\d:\d\d$", s) for s in stamped)  # local mean time, seconds kept


def test_search_filters_and_sort_narrow_the_copied_file_as_the_list(odd_url, copies):
    app = _app(odd_url)
    client = app.test_client()
    view = _view(app, "odd_cells")
    url = "/admin/odd_cells/export/csv/?search=a&sort=1&desc=1"
    copied = _export(client, url)
    view.copy_export = False
    assert copied == _export(client, url) and len(copies) == 1
    assert copied.count(b"\r\n") >= 3


def test_a_screen_with_a_column_the_database_cannot_render_exactly_keeps_the_python_path(odd_url, copies):
    app = _app(odd_url)
    client = app.test_client()
    body = _export(client, "/admin/float_cells/export/csv/")
    assert copies == []
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert [r[1] for r in rows[1:]] == ["0.1", "1000000000000000.0", "3.0"]


def test_a_client_that_hangs_up_ends_the_copy_and_is_recorded(odd_url, copies):
    app = _app(odd_url)
    outside_sql(app, "INSERT INTO odd_cells (name, body) SELECT 'row ' || g, repeat('x', 500) "
                     "FROM generate_series(1, 200000) g")
    client = app.test_client()
    response = client.get("/admin/odd_cells/export/csv/", buffered=False)
    chunks = iter(response.response)
    received = len(next(chunks)) + len(next(chunks))
    response.close()  # the client hangs up
    copy = copies[0]
    assert not copy._thread.is_alive()
    event = outside_sql(app, "SELECT changes FROM backoffice_audit_events WHERE action = 'export'")[0]["changes"]
    new = event["new"] if isinstance(event, dict) else json.loads(event)["new"]
    assert new["complete"] is False and 0 < new["rows"] < 200_000 and received > 0
    # the database is no longer sending: no COPY left running
    deadline = time.monotonic() + 10
    while outside_sql(app, "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'COPY (%' "
                           "AND state = 'active' AND pid <> pg_backend_pid()")[0]["n"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert outside_sql(app, "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'COPY (%' "
                            "AND state = 'active' AND pid <> pg_backend_pid()")[0]["n"] == 0


def test_a_copy_that_stalls_past_the_statement_timeout_breaks_the_transfer(odd_url, copies):
    app = create_app({"DATABASE_URL": odd_url, "SECRET_KEY": "test-secret-key", "LOG_LEVEL": "WARNING",
                      "STATEMENT_TIMEOUT_MS": "1500"})
    app.config["TESTING"] = True
    _view(app, "odd_cells").copy_stall_margin = 0  # the statement timeout alone bounds the stall
    # Called as a server calls it: the body is read only after the view returned (the test
    # client would read the first part before returning).
    environ = EnvironBuilder(path="/admin/odd_cells/export/csv/").get_environ()
    started = []
    body = app(environ, lambda status, headers, *_: started.append(status))
    assert started == ["200 OK"]
    locker = psycopg2.connect(odd_url)
    parts = []
    try:
        with locker.cursor() as cur:  # an ACCESS EXCLUSIVE lock: the COPY waits and sends nothing
            cur.execute("LOCK TABLE odd_cells IN ACCESS EXCLUSIVE MODE")
        for chunk in body:
            parts.append(chunk)
    finally:
        body.close()
        locker.rollback()
        locker.close()
    # Nothing was sent yet (not even the header): the console's error page answers instead of a
    # file, saying the database stopped answering
    page = b"".join(parts)
    assert started[-1].startswith("503") and b"Database unavailable" in page and b"Request id" in page
    assert b"Id," not in page
    event = outside_sql(app, "SELECT changes FROM backoffice_audit_events WHERE action = 'export'")[0]["changes"]
    new = event["new"] if isinstance(event, dict) else json.loads(event)["new"]
    assert new["complete"] is False and new["rows"] == 0
    assert not copies[0]._thread.is_alive()


@pytest.mark.slow  # a gunicorn process
def test_an_export_in_progress_leaves_the_workers_other_threads_serving(pg_demo_url, tmp_path):
    """One gunicorn worker; an export of a million rows whose reader stops reading after the
    first chunk: while it is held open (its COPY still running in the database), that same
    worker answers lists and health checks, and the export then completes with every row."""
    outside = psycopg2.connect(pg_demo_url)
    with outside, outside.cursor() as cur:
        cur.execute("INSERT INTO people (name) SELECT 'Held ' || g FROM generate_series(1, 1000000) g")
        cur.execute("SELECT count(*) FROM people")
        people = cur.fetchone()[0]
    outside.close()
    server = Gunicorn.start({"DATABASE_URL": pg_demo_url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"}, tmp_path,
                            workers=1)
    try:
        export = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        export.request("GET", "/admin/people/export/csv/")
        response = export.getresponse()
        assert response.status == 200
        first = response.read(64 * 1024)  # then nothing more is read for a while
        assert first.startswith(b"Id,")
        answers = [server.get(path) for path in ("/admin/movies/?page_size=20", "/healthz", "/admin/people/")
                   for _ in range(3)]
        assert [a.status for a in answers] == [200] * 9
        watcher = psycopg2.connect(pg_demo_url)
        with watcher, watcher.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY (%' AND state = 'active' "
                        "AND pid <> pg_backend_pid()")
            assert cur.fetchone()[0] == 1  # the export was held open all along, not already sent
        watcher.close()
        rest = response.read()
        export.close()
        rows = list(csv.reader(io.StringIO((first + rest).decode("utf-8"))))
        assert len(rows) == people + 1
    finally:
        server.stop()
