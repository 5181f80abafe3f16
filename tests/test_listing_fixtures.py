"""Schemas no one here wrote: every list screen still renders when treated as a big table
(default filters on indexed columns, keyset on odd keys, bounded offsets on views)."""
import shutil

import pytest

from console.app import create_app

from tests.conftest import shared_fixture


def _every_list_page_renders_large(app):
    client = app.test_client()
    views = [v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None)]
    assert views
    for view in views:
        view.exact_count_limit, view._size = 5, None
        first = client.get(view.url + "/?page_size=20")
        assert first.status_code == 200, (view.screen, first.get_data(as_text=True)[:500])
        body = first.get_data(as_text=True)
        if 'rel="next"' in body:  # a keyset link must lead to a working page
            import html
            import re

            following = html.unescape(re.search(r'rel="next" href="([^"]+)"', body).group(1))
            assert client.get(following).status_code == 200, (view.screen, following)


def test_chinook_sqlite_screens_page_when_large(tmp_path, monkeypatch):
    path = tmp_path / "chinook.sqlite"
    shutil.copyfile(shared_fixture("chinook/Chinook_Sqlite.sqlite"), path)
    path.chmod(0o644)
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    _every_list_page_renders_large(app)


@pytest.mark.postgres
def test_pagila_schema_screens_page_when_large(pg_server, tmp_path, monkeypatch):
    import subprocess

    url = pg_server.create_database("pagila_listing")
    schema = shared_fixture("pagila/pagila-schema.sql")
    psql = shutil.which("psql") or pg_server.bindir / "psql"
    done = subprocess.run([str(psql), "-q", "-h", "127.0.0.1", "-p", str(pg_server.port), "-U", "postgres",
                           "-d", "pagila_listing", "-f", str(schema)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    # An unpopulated materialized view cannot be read at all (a reflection matter, not paging).
    pg_server_sql = f"postgresql://postgres@127.0.0.1:{pg_server.port}/pagila_listing"
    import psycopg2

    with psycopg2.connect(pg_server_sql) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT schemaname, matviewname FROM pg_matviews")
        for schema_name, view_name in cursor.fetchall():
            cursor.execute(f'REFRESH MATERIALIZED VIEW "{schema_name}"."{view_name}"')
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    _every_list_page_renders_large(app)
