"""A record's details page: the rows that reference it (counted with a cap, first rows, a link
that really filters the list) and its audit history with diffs, against the real database."""
from __future__ import annotations

import re
import shutil
from html import unescape

import pytest

from console.app import create_app

from tests.auth_helpers import ADMIN, ENV, basic, write_users
from tests.conftest import outside_sql, shared_fixture

OWNER = basic(*ADMIN)
OPERATOR = basic("otto", "pw-otto")
VIEWER = basic("vera", "pw-vera")


@pytest.fixture
def roles_app(make_app, tmp_path):
    users = write_users(tmp_path / "users", {"vera": ("viewer", "pw-vera"), "otto": ("operator", "pw-otto")})
    return make_app(OPERATOR_AUTH_USERS_FILE=users, **ENV)


def sections(html: str) -> dict[str, dict]:
    """Referencing table -> its count text, row links, filtered-list link and note, as shown."""
    found = {}
    for match in re.finditer(r'<section class="backoffice-reference mb-3" data-table="([^"]+)" '
                             r'data-columns="([^"]+)">(.*?)</section>', html, re.S):
        body = match.group(3)
        link = re.search(r'class="backoffice-reference-list small" href="([^"]+)"', body)
        note = re.search(r'backoffice-reference-note">([^<]+)<', body)
        found[(match.group(1), match.group(2))] = {
            "count": re.search(r'backoffice-reference-count">([^<]+)<', body).group(1).strip(),
            "rows": [unescape(u) for u in re.findall(r'class="backoffice-reference-row" href="([^"]+)"', body)],
            "list": unescape(link.group(1)) if link else None,
            "note": unescape(note.group(1)) if note else None,
        }
    return found


def listed_ids(client, url: str, screen: str, headers=None) -> set[str]:
    """The row ids a list page shows (its rows' own details links, which carry the return URL;
    a foreign-key cell's link does not)."""
    response = client.get(url, headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    body = response.get_data(as_text=True)
    return {unescape(i) for i in re.findall(rf'href="/admin/{screen}/details/\?id=([^"&]+)&amp;url=', body)}


def _busy_movie(app, least: int = 2) -> int:
    rows = outside_sql(app, "SELECT movie_id FROM movie_credits GROUP BY movie_id HAVING count(*) >= :n "
                            "ORDER BY movie_id LIMIT 1", n=least)
    return rows[0]["movie_id"]


def test_counts_and_first_rows_match_the_database(app, client):
    movie = _busy_movie(app, 2)
    html = client.get(f"/admin/movies/details/?id={movie}").get_data(as_text=True)
    shown = sections(html)
    for table in ("movie_credits", "movie_genres", "movie_keywords", "tmdb_match_reviews"):
        section = shown[(table, "movie_id")]
        count = outside_sql(app, f"SELECT count(*) AS n FROM {table} WHERE movie_id = :m", m=movie)[0]["n"]
        assert section["count"] == f"{count:,}", (table, section)
        if table == "movie_genres" or table == "movie_keywords":
            continue  # composite keys: checked through the list link below
        first = [r["id"] for r in outside_sql(app, f"SELECT id FROM {table} WHERE movie_id = :m ORDER BY id LIMIT 5",
                                              m=movie)]
        assert section["rows"] == [f"/admin/{table}/details/?id={i}" for i in first]
    # the label column and what a credit points at: the person's name
    person = outside_sql(app, "SELECT p.name FROM movie_credits c JOIN people p ON p.id = c.person_id "
                              "WHERE c.movie_id = :m ORDER BY c.id LIMIT 1", m=movie)[0]["name"]
    assert person in html


def test_each_link_filters_the_list_to_exactly_the_referencing_rows(app, client):
    movie = _busy_movie(app, 3)
    shown = sections(client.get(f"/admin/movies/details/?id={movie}").get_data(as_text=True))
    credits = shown[("movie_credits", "movie_id")]
    expected = {str(r["id"]) for r in outside_sql(app, "SELECT id FROM movie_credits WHERE movie_id = :m", m=movie)}
    assert listed_ids(client, credits["list"], "movie_credits") == expected
    genres = shown[("movie_genres", "movie_id")]
    expected = {f"{movie},{r['genre_id']}" for r in outside_sql(
        app, "SELECT genre_id FROM movie_genres WHERE movie_id = :m", m=movie)}
    assert expected and listed_ids(client, genres["list"], "movie_genres") == expected
    # and from the other side: a person's credits across movies
    person = outside_sql(app, "SELECT person_id FROM movie_credits WHERE movie_id = :m LIMIT 1", m=movie)[0]["person_id"]
    by_person = sections(client.get(f"/admin/people/details/?id={person}").get_data(as_text=True))
    expected = {str(r["id"]) for r in outside_sql(app, "SELECT id FROM movie_credits WHERE person_id = :p", p=person)}
    assert listed_ids(client, by_person[("movie_credits", "person_id")]["list"], "movie_credits") == expected


def test_a_count_past_the_cap_says_so_and_the_page_stays_bounded(app, client):
    movie = _busy_movie(app, 1)
    outside_sql(app, "INSERT INTO movie_credits (movie_id, person_id, credit_type, job) "
                     "SELECT :m, p.id, 'crew', 'Grip' FROM people p, (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL "
                     "SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) AS five", m=movie)
    total = outside_sql(app, "SELECT count(*) AS n FROM movie_credits WHERE movie_id = :m", m=movie)[0]["n"]
    assert total > 1000, "the demo catalog holds too few people for this test"
    shown = sections(client.get(f"/admin/movies/details/?id={movie}").get_data(as_text=True))
    credits = shown[("movie_credits", "movie_id")]
    assert credits["count"] == "1,000+" and len(credits["rows"]) == 5


def test_unindexed_reference_on_a_large_table_is_not_counted(app, client):
    movie = _busy_movie(app, 1)
    credits = next(v for v in app.extensions["backoffice.views"] if getattr(v, "screen", None) == "movie_credits")
    credits.exact_count_limit, credits._size = 5, None  # the demo's credits count as a large table now
    shown = sections(client.get(f"/admin/movies/details/?id={movie}").get_data(as_text=True))
    assert shown[("movie_credits", "movie_id")]["count"] != "not counted"  # indexed: still counted
    table = credits.entry.table
    saved = set(table.indexes)
    table.indexes.clear()  # as if the schema had no index on movie_credits.movie_id
    try:
        section = sections(client.get(f"/admin/movies/details/?id={movie}").get_data(as_text=True))[
            ("movie_credits", "movie_id")]
    finally:
        table.indexes.update(saved)
    assert section["count"] == "not counted" and "no index of movie_credits starts with movie_id" in section["note"]
    assert section["rows"] == [] and section["list"]


def _rename(client, gid: int, name: str, headers, tmdb: int | None = None):
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get(f"/admin/genres/edit/?id={gid}", headers=headers).get_data(as_text=True)).group(1)
    response = client.post(f"/admin/genres/edit/?id={gid}", headers=headers,
                           data={"csrf_token": token, "name": name, "tmdb_genre_id": str(tmdb or gid)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def _history(html: str) -> list[dict]:
    events = []
    for match in re.finditer(r'<tr class="backoffice-record-event" data-event="(\d+)">(.*?)</tr>', html, re.S):
        body = match.group(2)
        diffs = {}
        for column, text in re.findall(r'data-column="([^"]+)">(.*?)</li>', body, re.S):
            text = text.split("</code>:", 1)[1]  # after the column's name
            diffs[column] = " ".join(unescape(re.sub(r"<[^>]+>", " ", text)).split())
        events.append({"id": int(match.group(1)), "diffs": diffs,
                       "revert": "backoffice-revert" in body, "action": re.search(r"<code>([^<]+)</code>", body).group(1)})
    return events


def test_history_newest_first_with_diffs_and_revert_links_by_role(roles_app):
    app, client = roles_app, roles_app.test_client()
    outside_sql(app, "INSERT INTO genres (id, tmdb_genre_id, name) VALUES (9201, 9201, 'Noir')")
    # created through the console (an insert event: reverting it needs the create role, admin)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/admin/genres/new/", headers=OWNER).get_data(as_text=True)).group(1)
    assert client.post("/admin/genres/new/", headers=OWNER, data={
        "csrf_token": token, "name": "Heist", "tmdb_genre_id": "9202"}).status_code == 302
    gid = outside_sql(app, "SELECT id FROM genres WHERE name = 'Heist'")[0]["id"]
    _rename(client, gid, "Caper", OPERATOR, tmdb=9202)
    _rename(client, gid, "Heist film", OPERATOR, tmdb=9202)
    page = client.get(f"/admin/genres/details/?id={gid}", headers=OPERATOR).get_data(as_text=True)
    events = _history(page)
    assert [e["action"] for e in events] == ["update", "update", "create"]
    assert events[0]["id"] > events[1]["id"] > events[2]["id"]
    assert events[0]["diffs"] == {"name": "Caper → Heist film"}
    assert events[1]["diffs"] == {"name": "Heist → Caper"}
    assert "name" in events[2]["diffs"] and events[2]["diffs"]["name"] == "Heist"
    # an operator may revert an edit (edit role) but not the creation (create role: admin)
    assert [e["revert"] for e in events] == [True, True, False]
    assert f"/admin/audit/?table=genres&amp;entity={gid}" in page
    owner = _history(client.get(f"/admin/genres/details/?id={gid}", headers=OWNER).get_data(as_text=True))
    assert [e["revert"] for e in owner] == [True, True, True]
    # a viewer may not read the audit history: no history, no revert link
    viewer = client.get(f"/admin/genres/details/?id={gid}", headers=VIEWER).get_data(as_text=True)
    assert "backoffice-record-history" not in viewer and "/admin/revert/" not in viewer
    # the record without any audited change still has the section, and it says so
    assert "No audited change of this record yet." in client.get(
        "/admin/genres/details/?id=9201", headers=OPERATOR).get_data(as_text=True)


def test_history_is_bounded_and_links_the_full_history(roles_app, monkeypatch):
    import views.record

    monkeypatch.setattr(views.record, "HISTORY_ROWS", 3)
    app, client = roles_app, roles_app.test_client()
    outside_sql(app, "INSERT INTO genres (id, tmdb_genre_id, name) VALUES (9301, 9301, 'n0')")
    for n in range(1, 6):
        _rename(client, 9301, f"n{n}", OPERATOR)
    page = client.get("/admin/genres/details/?id=9301", headers=OPERATOR).get_data(as_text=True)
    events = _history(page)
    assert [e["diffs"]["name"] for e in events] == ["n4 → n5", "n3 → n4", "n2 → n3"]
    assert "Older changes: the full history of this record" in page
    full = client.get("/admin/audit/?table=genres&entity=9301", headers=OPERATOR).get_data(as_text=True)
    assert full.count('<tr id="event-') == 5


def test_tables_the_operator_may_not_see_are_not_listed(roles_app, tmp_path, make_app):
    app, client = roles_app, roles_app.test_client()
    movie = _busy_movie(app, 1)
    credits = next(v for v in app.extensions["backoffice.views"] if getattr(v, "screen", None) == "movie_credits")
    credits.view_role = "admin"
    for headers, listed in ((VIEWER, False), (OPERATOR, False), (OWNER, True)):
        html = client.get(f"/admin/movies/details/?id={movie}", headers=headers).get_data(as_text=True)
        assert (("movie_credits", "movie_id") in sections(html)) is listed
        assert ("/admin/movie_credits/" in html) is listed
    # a table the declarative file hides has no screen, and no section either
    config = tmp_path / "hide.toml"
    config.write_text("[views.movie_genres]\nhidden = true\n", encoding="utf-8")
    hidden = make_app(BACKOFFICE_CONFIG=config).test_client()
    shown = sections(hidden.get(f"/admin/movies/details/?id={movie}").get_data(as_text=True))
    assert ("movie_genres", "movie_id") not in shown and ("movie_credits", "movie_id") in shown


# -- composite, binary and self-referencing keys --------------------------------------------

ODD_KEYS = """
CREATE TABLE shelf (code {blob} NOT NULL, n INTEGER NOT NULL, name VARCHAR(40), PRIMARY KEY (code, n));
CREATE TABLE bin (zone VARCHAR(10) NOT NULL, slot INTEGER NOT NULL, name VARCHAR(40), PRIMARY KEY (zone, slot));
CREATE TABLE book (
    id INTEGER PRIMARY KEY, title VARCHAR(80) NOT NULL,
    shelf_code {blob}, shelf_n INTEGER, bin_zone VARCHAR(10), bin_slot INTEGER,
    parent_id INTEGER REFERENCES book (id),
    FOREIGN KEY (shelf_code, shelf_n) REFERENCES shelf (code, n),
    FOREIGN KEY (bin_zone, bin_slot) REFERENCES bin (zone, slot));
INSERT INTO shelf VALUES ({b1}, 1, 'top'), ({b1}, 2, 'middle');
INSERT INTO bin VALUES ('A', 1, 'first'), ('A', 2, 'second'), ('B', 1, 'other');
INSERT INTO book VALUES (1, 'Root', {b1}, 1, 'A', 1, NULL), (2, 'Child one', {b1}, 1, 'A', 1, 1),
    (3, 'Child two', {b1}, 2, 'A', 2, 1), (4, 'Grandchild', NULL, NULL, 'B', 1, 2), (5, 'Elsewhere', {b1}, 1, 'A', 2, NULL);
"""


def _odd_keys_app(url, dialect, monkeypatch, tmp_path):
    from sqlalchemy import create_engine

    from backoffice.core.settings import normalise_database_url

    blob, b1 = ("BLOB", "x'00ff'") if dialect == "sqlite" else ("BYTEA", "'\\x00ff'::bytea")
    engine = create_engine(normalise_database_url(url))
    with engine.begin() as connection:
        for statement in ODD_KEYS.format(blob=blob, b1=b1).split(";"):
            if statement.strip():
                connection.exec_driver_sql(statement)
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    app.config["TESTING"] = True
    return app


def _check_odd_keys(app):
    client = app.test_client()
    # a composite reference: counted, and the link filters on both columns
    shown = sections(client.get("/admin/bin/details/?id=A,1").get_data(as_text=True))
    by_bin = shown[("book", "bin_zone,bin_slot")]
    assert by_bin["count"] == "2" and by_bin["rows"] == ["/admin/book/details/?id=1", "/admin/book/details/?id=2"]
    assert listed_ids(client, by_bin["list"], "book") == {"1", "2"}
    assert listed_ids(client, sections(client.get("/admin/bin/details/?id=A,2").get_data(as_text=True))[
        ("book", "bin_zone,bin_slot")]["list"], "book") == {"3", "5"}
    # a self-reference: a book's children
    children = sections(client.get("/admin/book/details/?id=1").get_data(as_text=True))[("book", "parent_id")]
    assert children["count"] == "2" and listed_ids(client, children["list"], "book") == {"2", "3"}
    assert sections(client.get("/admin/book/details/?id=4").get_data(as_text=True))[("book", "parent_id")]["count"] == "0"
    # a binary composite key: counted and listed; the list has no filter on bytes, and the page says so
    shelf_list = client.get("/admin/shelf/").get_data(as_text=True)
    shelf_id = unescape(re.findall(r'href="/admin/shelf/details/\?id=([^"&]+)', shelf_list)[0])
    assert "%02" in shelf_id  # the bytes part of the key, marked (views/identity.py)
    response = client.get("/admin/shelf/details/?id=" + shelf_id)
    assert response.status_code == 200
    by_shelf = sections(response.get_data(as_text=True))[("book", "shelf_code,shelf_n")]
    assert by_shelf["count"] == "3" and len(by_shelf["rows"]) == 3
    assert by_shelf["list"] is None and "offers no filter on shelf_code" in by_shelf["note"]


def test_composite_binary_and_self_references_on_sqlite(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'odd.sqlite'}"
    _check_odd_keys(_odd_keys_app(url, "sqlite", monkeypatch, tmp_path))


@pytest.mark.postgres
def test_composite_binary_and_self_references_on_postgres(pg_server, tmp_path, monkeypatch):
    url = pg_server.create_database("record_odd_keys")
    _check_odd_keys(_odd_keys_app(url, "postgresql", monkeypatch, tmp_path))


# -- schemas no one here wrote --------------------------------------------------------------

def _details_of_a_sample_of_each_table(app, per_table: int = 3) -> int:
    """GET the details page of the first rows of every screen: never a 5xx; returns how many
    pages showed a references section."""
    client = app.test_client()
    with_references = 0
    for view in [v for v in app.extensions["backoffice.views"] if getattr(v, "screen", None)]:
        if not view.can_view_details:
            continue
        listing = client.get(view.url + "/?page_size=20")
        assert listing.status_code == 200, view.screen
        ids = re.findall(rf'href="{re.escape(view.url)}/details/\?id=([^"&]+)', listing.get_data(as_text=True))
        for row_id in list(dict.fromkeys(ids))[:per_table]:
            page = client.get(view.url + "/details/", query_string={"id": unescape(row_id)})
            assert page.status_code < 500, (view.screen, row_id, page.get_data(as_text=True)[:800])
            with_references += "backoffice-references" in page.get_data(as_text=True)
    return with_references


def test_chinook_sqlite_details_pages(tmp_path, monkeypatch):
    path = tmp_path / "chinook.sqlite"
    shutil.copyfile(shared_fixture("chinook/Chinook_Sqlite.sqlite"), path)
    path.chmod(0o644)
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    assert _details_of_a_sample_of_each_table(app) > 0
    client = app.test_client()
    shown = sections(client.get("/admin/Artist/details/?id=1").get_data(as_text=True))
    albums = shown[("Album", "ArtistId")]
    import sqlite3

    with sqlite3.connect(path) as conn:
        expected = {str(r[0]) for r in conn.execute("SELECT AlbumId FROM Album WHERE ArtistId = 1")}
    assert albums["count"] == str(len(expected)) and listed_ids(client, albums["list"], "Album") == expected


@pytest.mark.postgres
def test_chinook_and_pagila_postgres_details_pages(pg_server, tmp_path, monkeypatch):
    from tests.reflection_walk import load_sql_file, run_sql
    from tests.test_reflection_real import CHINOOK_SKIP, PAGILA_ROWS

    monkeypatch.chdir(tmp_path)
    chinook = load_sql_file(pg_server, "record_chinook", shared_fixture("chinook/Chinook_PostgreSql.sql"),
                            skip=CHINOOK_SKIP)
    app = create_app({"DATABASE_URL": chinook, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    assert _details_of_a_sample_of_each_table(app) > 0
    pagila = load_sql_file(pg_server, "record_pagila", shared_fixture("pagila/pagila-schema.sql"))
    run_sql(pagila, PAGILA_ROWS)
    app = create_app({"DATABASE_URL": pagila, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    assert _details_of_a_sample_of_each_table(app) > 0
    client = app.test_client()
    film = sections(client.get("/admin/film/details/?id=1").get_data(as_text=True))
    assert film[("film_actor", "film_id")]["count"] == "2"
    assert listed_ids(client, film[("film_actor", "film_id")]["list"], "film_actor") == {"1,1", "2,1"}
    # a partitioned parent's rows reference too; the page stays whole
    assert ("inventory", "film_id") in film
