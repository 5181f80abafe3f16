"""The Pagila sample schema (not written here) configured by examples/pagila.toml."""
from __future__ import annotations

import re
from pathlib import Path

import psycopg2
import pytest

from console.app import create_app
from backoffice.core.declarations import check_all, load_declarations
from console.app import console_rules

from tests.conftest import shared_fixture

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pagila.toml"

ROWS = """
SET session_replication_role = replica;  -- fixture rows only: skip FK and trigger checks
INSERT INTO language (language_id, name) VALUES (1, 'English');
INSERT INTO film (film_id, title, description, release_year, language_id, rental_rate, rating, fulltext)
VALUES (1, 'ACADEMY DINOSAUR', 'An epic drama', 2006, 1, 0.99, 'PG', ''),
       (2, 'ACE GOLDFINGER', 'A thrilling story', 2006, 1, 4.99, 'NC-17', '');
INSERT INTO staff (staff_id, first_name, last_name, address_id, store_id, username, password)
VALUES (1, 'Mike', 'Hillyer', 1, 1, 'mike', 'sekrit-hash-8cb2237d0679ca88db6464eac60da96345513964');
INSERT INTO payment (payment_id, customer_id, staff_id, rental_id, amount, payment_date)
VALUES (1, 1, 1, 1, 999.5, '2022-01-15 10:00+00');
SET session_replication_role = DEFAULT;
REFRESH MATERIALIZED VIEW rental_by_category;
"""


@pytest.fixture(scope="module")
def pagila_url(pg_server):
    """A database holding the Pagila schema (the shared fixture file) and a few rows."""
    schema = shared_fixture("pagila/pagila-schema.sql").read_text(encoding="utf-8")
    url = pg_server.create_database("pagila_declarative")
    conn = psycopg2.connect(host="127.0.0.1", port=pg_server.port, user="postgres", dbname="pagila_declarative")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(schema)
            cursor.execute("SET search_path = public")
            cursor.execute(ROWS)
    finally:
        conn.close()
    yield url
    pg_server.admin_sql('DROP DATABASE IF EXISTS "pagila_declarative" WITH (FORCE)')


@pytest.fixture
def pagila_app(pagila_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": pagila_url, "SECRET_KEY": "test", "LOG_LEVEL": "ERROR",
                      "BACKOFFICE_CONFIG": str(EXAMPLE)})
    app.config["TESTING"] = True
    return app


def test_pagila_example_checks_clean_but_for_one_explained_warning(pagila_app):
    problems = check_all(load_declarations(EXAMPLE), pagila_app.extensions["backoffice.reflection"], console_rules())
    assert [f"{p.id} {p.option}" for p in problems] == ["backoffice.W012 views.film.never_show[0]"]


def test_pagila_console_configured_by_the_example(pagila_app):
    client = pagila_app.test_client()
    views = [v for v in pagila_app.extensions["backoffice.admin"]._views if getattr(v, "screen", None)]
    assert not [v.screen for v in views if v.screen.startswith("payment_p")]
    assert client.get("/admin/payment_p2022_01/").status_code == 404
    assert [v.category for v in views][:1] == ["Catalog"] and views[-1].name == "Staff list"
    for view in views:
        assert client.get(f"/admin/{view.screen}/").status_code == 200, view.screen

    films = client.get("/admin/film/").get_data(as_text=True)
    assert re.search(r"col-rental_rate\">\s*\$0\.99\s*<", films)
    assert '<span class="badge badge-dark">NC-17</span>' in films and ">Minutes<" in films
    assert "fulltext" not in films and "fulltext" not in client.get("/admin/film/new/").get_data(as_text=True)

    payments = client.get("/admin/payment/").get_data(as_text=True)
    assert re.search(r"col-amount\">\s*\$999\.50\s*<", payments)
    payment = next(v for v in views if v.screen == "payment")
    assert (payment.create_role, payment.edit_role, payment.delete_role) == (None, None, None)
    assert payment.column_default_sort == [("payment_date", True), ("payment_id", False)]

    for url in ("/admin/staff/", "/admin/staff/details/?id=1", "/admin/staff/edit/?id=1", "/admin/staff/new/",
                "/admin/staff/export/csv/"):
        body = client.get(url).get_data(as_text=True)
        assert "sekrit-hash" not in body, url
        # the column nowhere: no header, cell, field or label (the auth banner may say "password")
        assert not re.search(r'(col-|name="|id="|for=")password|>\s*password\s*<', body, re.I), url
