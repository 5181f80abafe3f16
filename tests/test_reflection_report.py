"""The reflection report: the page and ``backoffice check`` say what was exposed and degraded."""
from __future__ import annotations

from click.testing import CliRunner

from console.cli import main

from tests.test_reflection_types import _app, odd_pg, odd_sqlite  # noqa: F401  (fixtures)


def test_report_page_lists_every_relation_with_exposure_key_and_reasons(odd_pg):  # noqa: F811
    app = _app(odd_pg, BACKOFFICE_SCHEMAS="sales")
    client = app.test_client()
    html = client.get("/admin/schema-report/").get_data(as_text=True)
    for screen in app.extensions["backoffice.reflection"].tables:
        assert f'<tr id="{screen}">' in html, screen
    assert 'href="/admin/schema-report/"' in client.get("/admin/").get_data(as_text=True)  # in the Schema menu
    gadgets = html.split('<tr id="gadgets">')[1].split("</tr>")[0]
    assert "CRUD" in gadgets and "<code>id</code>" in gadgets
    assert "binary data: shown as its size" in gadgets and "generated column" in gadgets
    assert "identity column GENERATED ALWAYS" in gadgets and "tsvector" in gadgets
    assert "domain positive_int over INTEGER" in gadgets
    log_lines = html.split('<tr id="log_lines">')[1].split("</tr>")[0]
    assert "read-only" in log_lines and "no primary key" in log_lines and "(ctid)" in log_lines
    orders = html.split('<tr id="orders">')[1].split("</tr>")[0]
    assert "link buyer -&gt; sales.user" in orders


def test_check_prints_the_report_before_declaration_problems(odd_sqlite, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", odd_sqlite)
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Reflection (sqlite): 5 relations, 4 CRUD, 1 read-only")
    assert "  notes [table] CRUD; key: rowid" in lines  # no declared key: SQLite's rowid addresses its rows
    assert any("user_names [view] read-only" in line for line in lines)
    assert any(line.startswith("    - column blob (BLOB): binary data") for line in lines)
    assert lines[-1].startswith("5 tables and views reflected")
