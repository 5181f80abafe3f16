"""Public sample databases nobody here wrote, walked relation by relation.

For each database every relation's list and CSV export answer 200, the first row of
every relation holding rows opens in details, and every editable one opens in the edit
form and saves unchanged with every row left byte-identical (tests/reflection_walk.py).
Nothing may answer 5xx. The figures per step are printed (``pytest -s``) for the record.
"""
from __future__ import annotations

import sqlite3

import pytest

from console.app import create_app

from tests.conftest import shared_fixture
from tests.reflection_walk import fill_one_row_each, load_sql_file, walk

pytestmark = pytest.mark.slow

AW_SCHEMAS = ["person", "humanresources", "production", "purchasing", "sales"]
#: The adventureworks fixture has no data (its CSV files are not shipped): one row per table,
#: with values that satisfy its CHECK constraints where the generic sample would not.
AW_VALUES = {("employee", "birthdate"): "'1980-01-01'", ("employeepayhistory", "rate"): "10",
             ("person", "persontype"): "'EM'", ("billofmaterials", "enddate"): "NULL",
             ("billofmaterials", "productassemblyid"): "NULL", ("billofmaterials", "bomlevel"): "0", ("transactionhistory", "transactiontype"): "'W'",
             ("transactionhistoryarchive", "transactiontype"): "'W'"}


def _app(url, **env):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test-secret-key", "LOG_LEVEL": "ERROR", **env})
    app.config["TESTING"] = True
    return app


@pytest.mark.postgres
def test_adventureworks_five_schemas_and_their_views(pg_server):
    url = load_sql_file(pg_server, "adventureworks", shared_fixture("adventureworks/adventureworks-schema.sql"))
    assert fill_one_row_each(url, AW_SCHEMAS, AW_VALUES) == []
    app = _app(url, BACKOFFICE_SCHEMAS=",".join(AW_SCHEMAS + ["pe", "hr", "pr", "pu", "sa"]))
    reflection = app.extensions["backoffice.reflection"]
    kinds = [entry.kind for entry in reflection.tables.values()]
    assert len(kinds) == 157 and kinds.count("table") == 68 and kinds.count("materialized view") == 2
    person = next(e for e in reflection.tables.values() if e.qualified_name == "person.person")
    assert any("type xml is not known" in note for note in person.notes)
    done = walk(app)
    print("\n" + done.summary("AdventureWorks (PostgreSQL)"))
    assert not done.failures, "\n".join(done.failures)
    assert len(done.steps["list"]) == 157 and done.with_rows >= 149
    assert len(done.steps["saved"]) == done.editable_with_rows >= 67
    # xml, bytea, uuid, domains (Name, Flag) among what was saved unchanged
    saved = {reflection.tables[screen].qualified_name for screen in done.steps["saved"]}
    assert {"person.person", "production.productphoto", "production.document"} <= saved


@pytest.mark.postgres
def test_northwind_postgresql_bytea_pictures_and_character_keys(pg_server):
    url = load_sql_file(pg_server, "northwind", shared_fixture("northwind_pg/northwind.sql"))
    app = _app(url)
    done = walk(app)
    print("\n" + done.summary("Northwind (PostgreSQL)"))
    assert not done.failures, "\n".join(done.failures)
    assert len(done.steps["list"]) == 14 and len(done.steps["saved"]) == done.editable_with_rows == 12
    html = app.test_client().get("/admin/categories/details/?id=1").get_data(as_text=True)
    assert "0 bytes" in html  # the (empty) picture: its size, never its bytes


def test_northwind_sqlite_names_with_spaces_blobs_and_views_over_text_dates(tmp_path):
    path = tmp_path / "northwind.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(shared_fixture("northwind_sqlite/northwind-create.sql").read_text(encoding="utf-8"))
        conn.executescript(shared_fixture("northwind_sqlite/northwind-update.sql").read_text(encoding="utf-8"))
    app = _app(f"sqlite:///{path}")
    reflection = app.extensions["backoffice.reflection"]
    done = walk(app)
    print("\n" + done.summary("Northwind (SQLite)"))
    assert not done.failures, "\n".join(done.failures)
    assert len(done.steps["list"]) == len(reflection.tables) == 30
    assert {"Customers", "Order Details", "Categories", "Employees"} <= set(done.steps["saved"])
    html = app.test_client().get("/admin/Categories/details/?id=1").get_data(as_text=True)
    assert "KiB" in html and "\\xff" not in html and "b&#39;" not in html  # the picture: its size only
    assert {"Alphabetical list of products", "Orders Qry", "Summary of Sales by Year"} <= set(done.steps["details"])
