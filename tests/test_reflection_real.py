"""Real schemas no one here wrote: Pagila and Chinook get a working screen for every relation
(tests/fixtures/, with their licenses; more sample databases in test_sample_databases.py)."""
from __future__ import annotations

import re
import shutil

import pytest

from console.app import create_app

from tests.conftest import csrf_token, shared_fixture
from tests.reflection_walk import load_sql_file, run_sql, walk_every_screen

# A handful of rows in every Pagila table (the public schema file has none), so that
# detail and edit pages of each table are exercised, partitions and link tables included.
PAGILA_ROWS = """
SET session_replication_role = replica;  -- store and staff reference each other
INSERT INTO language (language_id, name) VALUES (1, 'English'), (2, 'Italian');
INSERT INTO country (country_id, country) VALUES (1, 'Türkiye'), (2, 'Canada');
INSERT INTO city (city_id, city, country_id) VALUES (1, 'İstanbul', 1), (2, 'Québec', 2);
INSERT INTO address (address_id, address, district, city_id, postal_code, phone)
    VALUES (1, '47 MySakila Drive', 'Alberta', 2, '', '555'), (2, '28 MySQL Boulevard', 'QLD', 1, NULL, '');
INSERT INTO store (store_id, manager_staff_id, address_id) VALUES (1, 1, 1);
INSERT INTO staff (staff_id, first_name, last_name, address_id, email, store_id, username, password, picture)
    VALUES (1, 'Mike', 'Hillyer', 1, 'mike@example.org', 1, 'Mike', 'x', '\\x89504e470d0a1a0a');
INSERT INTO actor (actor_id, first_name, last_name) VALUES (1, 'PENELOPE', 'GUINESS'), (2, 'NICK', 'WAHLBERG');
INSERT INTO category (category_id, name) VALUES (1, 'Action'), (2, 'Animation');
INSERT INTO film (film_id, title, description, release_year, language_id, original_language_id, rental_duration,
                  rental_rate, length, replacement_cost, rating, special_features, fulltext)
    VALUES (1, 'ACADEMY DINOSAUR', 'An epic drama', 2006, 1, 2, 6, 0.99, 86, 20.99, 'PG',
            '{"Deleted Scenes","Behind the Scenes"}', ''),
           (2, 'ACE GOLDFINGER', NULL, NULL, 1, NULL, 3, 4.99, NULL, 12.99, NULL, NULL, '');
INSERT INTO film_actor (actor_id, film_id) VALUES (1, 1), (2, 1);
INSERT INTO film_category (film_id, category_id) VALUES (1, 1), (2, 2);
INSERT INTO customer (customer_id, store_id, first_name, last_name, email, address_id, active)
    VALUES (1, 1, 'MARY', 'SMITH', 'mary@example.org', 2, 1);
INSERT INTO inventory (inventory_id, film_id, store_id) VALUES (1, 1, 1), (2, 2, 1);
INSERT INTO rental (rental_id, rental_date, inventory_id, customer_id, return_date, staff_id)
    VALUES (1, '2022-01-24 22:53:30.123456+00', 1, 1, NULL, 1), (2, '2022-02-14 10:00:00+00', 2, 1, '2022-02-16', 1);
INSERT INTO payment (payment_id, customer_id, staff_id, rental_id, amount, payment_date)
    VALUES (1, 1, 1, 1, 2.99, '2022-01-25 10:00:00.5+00'), (2, 1, 1, 2, 0.99, '2022-02-15 11:30:00+00');
SET session_replication_role = origin;
UPDATE film SET title = title;  -- the trigger fills fulltext
REFRESH MATERIALIZED VIEW rental_by_category;
"""

CHINOOK_SKIP = ("DROP DATABASE", "CREATE DATABASE", "\\c ")


@pytest.fixture(scope="module")
def pagila_empty_url(pg_server):
    return load_sql_file(pg_server, "pagila_empty", shared_fixture("pagila/pagila-schema.sql"))


@pytest.fixture(scope="module")
def pagila_url(pg_server):
    url = load_sql_file(pg_server, "pagila", shared_fixture("pagila/pagila-schema.sql"))
    run_sql(url, PAGILA_ROWS)
    return url


@pytest.fixture(scope="module")
def chinook_pg_url(pg_server):
    return load_sql_file(pg_server, "chinook", shared_fixture("chinook/Chinook_PostgreSql.sql"), skip=CHINOOK_SKIP)


def _app(url):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test-secret-key", "LOG_LEVEL": "WARNING"})
    app.config["TESTING"] = True
    return app


def test_empty_pagila_lists_every_relation_and_a_never_refreshed_view_does_not_fail(pagila_empty_url):
    app = _app(pagila_empty_url)
    reflection = app.extensions["backoffice.reflection"]
    kinds = {screen: entry.kind for screen, entry in reflection.tables.items()}
    assert kinds["payment"] == "partitioned table"
    assert kinds["rental_by_category"] == "materialized view"
    assert kinds["actor_info"] == "view"
    assert kinds["payment_p2022_01"] == "table"
    created = re.findall(r"^CREATE (?:TABLE|VIEW|MATERIALIZED VIEW) public\.(\w+)",
                         shared_fixture("pagila/pagila-schema.sql").read_text(), re.M)
    assert sorted(reflection.tables) == sorted(created) and len(created) == 78
    seen = walk_every_screen(app, name="Pagila, empty (PostgreSQL)")  # no rows yet: the unpopulated materialized view must not fail
    assert len(seen["list"]) == len(reflection.tables)
    assert seen["unreadable"] == ["rental_by_category"]
    assert any("not populated" in note for note in reflection.tables["rental_by_category"].notes)


def test_pagila_every_screen_works_with_rows(pagila_url):
    app = _app(pagila_url)
    reflection = app.extensions["backoffice.reflection"]
    seen = walk_every_screen(app, name="Pagila, with rows (PostgreSQL)")
    assert len(seen["list"]) == len(reflection.tables)
    for table in ("film", "film_actor", "film_category", "staff", "store", "customer", "rental",
                  "payment_p2022_01", "payment_p2022_02", "address", "city", "country", "language", "actor"):
        assert table in seen["saved"], table
    for read_only in ("payment", "actor_info", "film_list", "rental_by_category", "staff_list"):
        assert read_only in seen["details"] and read_only not in seen["saved"], read_only
    assert reflection.tables["payment"].read_only and reflection.tables["actor_info"].read_only


def test_pagila_types_are_shown_readably(pagila_url):
    app = _app(pagila_url)
    client = app.test_client()
    staff = client.get("/admin/staff/details/?id=1").get_data(as_text=True)
    assert "8 bytes" in staff and "\\x89" not in staff and "PNG" not in staff
    film = client.get("/admin/film/details/?id=1").get_data(as_text=True)
    assert "Deleted Scenes, Behind the Scenes" in film
    assert "&#39;academi&#39;" in film or "'academi'" in film  # the tsvector, as text
    assert '<a href="/admin/language/details/?id=1">English (#1)</a>' in film  # relationship as a link
    payments = client.get("/admin/payment_p2022_01/").get_data(as_text=True)
    assert "2022-01-25 10:00:00.500000 UTC" in payments  # shown in UTC, the fraction kept
    edit = client.get("/admin/film/edit/?id=1").get_data(as_text=True)
    assert 'name="rating"' in edit and 'name="release_year"' in edit  # enum and domain are editable
    assert 'name="fulltext"' not in edit  # tsvector: read-only
    assert "ACADEMY DINOSAUR (#1)" in client.get("/admin/film_actor/edit/?id=1,1").get_data(as_text=True)


def test_chinook_postgresql_every_screen_works(chinook_pg_url):
    app = _app(chinook_pg_url)
    seen = walk_every_screen(app, name="Chinook (PostgreSQL)")
    assert set(seen["saved"]) == {"album", "artist", "customer", "employee", "genre", "invoice", "invoice_line",
                                  "media_type", "playlist", "playlist_track", "track"}


def test_chinook_keys_the_database_does_not_assign_are_entered_on_create_only(chinook_pg_url):
    app = _app(chinook_pg_url)
    client = app.test_client()
    assert 'name="artist_id"' not in client.get("/admin/artist/edit/?id=1").get_data(as_text=True)
    token = csrf_token(client, "/admin/artist/new/")
    created = client.post("/admin/artist/new/", data={"csrf_token": token, "artist_id": "9001", "name": "Nouvelle"})
    assert created.status_code == 302
    assert "Nouvelle" in client.get("/admin/artist/details/?id=9001").get_data(as_text=True)


def test_chinook_sqlite_every_screen_works(tmp_path):
    path = tmp_path / "chinook.sqlite"
    shutil.copyfile(shared_fixture("chinook/Chinook_Sqlite.sqlite"), path)
    path.chmod(0o644)
    app = _app(f"sqlite:///{path}")
    seen = walk_every_screen(app, name="Chinook (SQLite)")
    assert "PlaylistTrack" in seen["saved"] and "InvoiceLine" in seen["saved"]
    assert len(seen["saved"]) == 11
    html = app.test_client().get("/admin/Track/").get_data(as_text=True)
    assert "Media type" in html and "Unit price" in html  # readable labels for MixedCase names
    edit = app.test_client().get("/admin/Track/edit/?id=1").get_data(as_text=True)
    assert 'name="Album"' in edit and 'name="MediaType"' in edit and 'name="AlbumId"' not in edit
