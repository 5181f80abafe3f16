"""What the database cascades is audited: every row, its old values, linked to its cause.

The demo schema is extended (before the console starts) with tables three levels below
movies (ON DELETE CASCADE), one with ON DELETE SET NULL, and a pair with ON UPDATE
CASCADE / ON DELETE SET DEFAULT, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, delete, select, text

from audit_hooks import audit_action, delete_preview
from console.cli import main
from backoffice.core.settings import normalise_database_url
from models.own import audit_events

from tests.conftest import csrf_token

EXTRA = [
    "CREATE TABLE credit_notes (id INTEGER PRIMARY KEY, credit_id INTEGER NOT NULL "
    "REFERENCES movie_credits(id) ON DELETE CASCADE, body TEXT)",
    "CREATE TABLE note_flags (id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL "
    "REFERENCES credit_notes(id) ON DELETE CASCADE, flag TEXT)",
    "CREATE TABLE watch_entries (id INTEGER PRIMARY KEY, movie_id INTEGER REFERENCES movies(id) ON DELETE SET NULL, "
    "who TEXT)",
    "CREATE TABLE studios (id INTEGER PRIMARY KEY, code VARCHAR(20) NOT NULL UNIQUE, name TEXT)",
    "CREATE TABLE studio_films (id INTEGER PRIMARY KEY, studio_code VARCHAR(20) DEFAULT 'none' "
    "REFERENCES studios(code) ON UPDATE CASCADE ON DELETE SET DEFAULT, title TEXT)",
]


@pytest.fixture
def cascading(db_url, make_app):
    """(app, movie id, its credit ids): the movie with the most credits, notes and flags below them."""
    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as connection:
        for statement in EXTRA:
            connection.execute(text(statement))
        movie = connection.execute(text(
            "SELECT movie_id FROM movie_credits GROUP BY movie_id ORDER BY count(*) DESC, movie_id LIMIT 1")).scalar()
        credits = connection.execute(text("SELECT id FROM movie_credits WHERE movie_id = :m ORDER BY id"),
                                     {"m": movie}).scalars().all()
        for n, credit in enumerate(credits[:3]):
            connection.execute(text("INSERT INTO credit_notes VALUES (:i, :c, :b)"),
                               {"i": n + 1, "c": credit, "b": f"note {n}"})
            connection.execute(text("INSERT INTO note_flags VALUES (:i, :n, 'check')"), {"i": n + 1, "n": n + 1})
        connection.execute(text("INSERT INTO watch_entries VALUES (1, :m, 'ana'), (2, :m, 'bo')"), {"m": movie})
        connection.execute(text("INSERT INTO studios VALUES (1, 'none', 'No studio'), (2, 'ghib', 'Ghibli')"))
        connection.execute(text("INSERT INTO studio_films VALUES (1, 'ghib', 'Totoro'), (2, 'ghib', 'Kiki')"))
    engine.dispose()
    return make_app(), movie, credits


def _events(app, **where):
    with app.app_context():
        query = select(audit_events).order_by(audit_events.c.id)
        for name, value in where.items():
            query = query.where(audit_events.c[name] == value)
        return [dict(r) for r in app.extensions["backoffice.db"].session.execute(query).mappings()]


def _verify(db_url):
    return CliRunner().invoke(main, ["audit-verify"], env={"DATABASE_URL": db_url})


def _count(app, sql, **params):
    with app.app_context():
        return app.extensions["backoffice.db"].session.execute(text(sql), params).scalar()


def _check_movie_cascade(app, movie, credits, action="delete"):
    by_id = {e["id"]: e for e in _events(app)}
    [root] = [e for e in by_id.values() if e["entity_type"] == "movies" and e["entity_id"] == str(movie)]
    assert root["action"] == action and root["caused_by"] is None
    def root_of(event):
        while event["caused_by"]:
            event = by_id[event["caused_by"]]
        return event

    cascaded = {e["entity_type"]: [] for e in by_id.values() if e["caused_by"]}
    for event in by_id.values():
        if event["caused_by"] and root_of(event) is root:
            cascaded[event["entity_type"]].append(event)
    assert sorted(int(e["entity_id"]) for e in cascaded["movie_credits"]) == credits
    for event in cascaded["movie_credits"]:
        assert event["action"] == "delete (cascade)" and event["caused_by"] == root["id"]
        assert event["changes"]["old"]["movie_id"] == movie
        assert event["changes"]["cascade"] == {"rule": "ON DELETE CASCADE",
                                               "cause": {"table": "movies", "entity_id": str(movie)}}
    # three levels: movies -> movie_credits -> credit_notes -> note_flags, each linked to its parent's audit row
    for flag in cascaded["note_flags"]:
        note = by_id[flag["caused_by"]]
        assert note["entity_type"] == "credit_notes" and note["entity_id"] == str(flag["changes"]["old"]["note_id"])
        credit = by_id[note["caused_by"]]
        assert credit["entity_type"] == "movie_credits" and by_id[credit["caused_by"]] is root
    assert len(cascaded["note_flags"]) == 3 and len(cascaded["credit_notes"]) == 3
    for entry in cascaded["watch_entries"]:
        assert entry["action"] == "update (cascade)" and entry["caused_by"] == root["id"]
        assert entry["changes"]["old"] == {"movie_id": movie} and entry["changes"]["new"] == {"movie_id": None}
    assert len(cascaded["watch_entries"]) == 2
    # every other row that went with the movie has its row too
    for table in ("movie_genres", "movie_keywords", "tmdb_match_reviews"):
        assert _count(app, f"SELECT count(*) FROM {table} WHERE movie_id = :m", m=movie) == 0
    assert _count(app, "SELECT count(*) FROM note_flags") == 0


def _expected_links(db_url, movie):
    engine = create_engine(normalise_database_url(db_url))
    with engine.connect() as connection:
        found = {t: connection.execute(text(f"SELECT count(*) FROM {t} WHERE movie_id = :m"), {"m": movie}).scalar()
                 for t in ("movie_genres", "movie_keywords", "tmdb_match_reviews")}
    engine.dispose()
    return found


def test_a_single_delete_audits_its_cascade_three_levels_deep(cascading, db_url):
    app, movie, credits = cascading
    links = _expected_links(db_url, movie)
    client = app.test_client()
    page = client.get(f"/admin/movies/details/?id={movie}").get_data(as_text=True)
    assert f"movie_credits: {len(credits)} row(s) deleted (ON DELETE CASCADE)" in page
    assert "note_flags: 3 row(s) deleted" in page and "watch_entries: 2 row(s) changed (ON DELETE SET NULL)" in page
    token = csrf_token(client, f"/admin/movies/details/?id={movie}")
    # the details page's form: it showed the cascade above, and says so
    response = client.post("/admin/movies/delete/", data={"csrf_token": token, "id": str(movie), "cascade_seen": "1"})
    assert response.status_code == 302
    _check_movie_cascade(app, movie, credits)
    for table, count in links.items():
        assert len(_events(app, entity_type=table, action="delete (cascade)")) == count
    assert _verify(db_url).exit_code == 0


def test_the_bulk_delete_page_lists_the_cascade_and_audits_it(cascading, db_url):
    app, movie, credits = cascading
    client = app.test_client()
    url = f"/admin/movies/bulk-delete/?id={movie}&id=1"
    page = client.get(url).get_data(as_text=True)
    assert re.search(r"movie_credits: \d+ row\(s\) deleted \(ON DELETE CASCADE\), e\.g\. #\d+", page)
    assert "credit_notes: 3 row(s) deleted" in page
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "reason": "duplicates"})
    assert response.status_code == 302, response.get_data(as_text=True)
    _check_movie_cascade(app, movie, credits)
    cascaded = [e for e in _events(app) if e["caused_by"]]
    assert all(e["reason"] == "duplicates" for e in cascaded)
    assert _verify(db_url).exit_code == 0


def test_the_list_rows_delete_button_leads_to_the_cascade_before_deleting(cascading, db_url):
    """The list's row button posts straight to the delete: a row that takes others with it is
    not deleted there but shown on the confirmation page with what cascades."""
    app, movie, credits = cascading
    client = app.test_client()
    token = csrf_token(client, "/admin/movies/")
    page = client.post("/admin/movies/delete/", data={"csrf_token": token, "id": str(movie), "url": "/admin/movies/"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"movie_credits: {len(credits)} row(s) deleted (ON DELETE CASCADE)" in html
    assert "watch_entries: 2 row(s) changed (ON DELETE SET NULL)" in html
    assert _count(app, "SELECT count(*) FROM movies WHERE id = :m", m=movie) == 1
    assert _events(app) == []
    url = f"/admin/movies/bulk-delete/?id={movie}"
    assert 'action="/admin/movies/bulk-delete/' in html
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "reason": "duplicate"})
    assert response.status_code == 302
    _check_movie_cascade(app, movie, credits)
    assert _verify(db_url).exit_code == 0
    # a row the database takes nothing with goes straight through, as before
    lonely = _count(app, "SELECT min(id) FROM movie_credits WHERE id NOT IN (SELECT credit_id FROM credit_notes)")
    response = client.post("/admin/movie_credits/delete/", data={"csrf_token": token, "id": str(lonely)})
    assert response.status_code == 302
    assert _count(app, "SELECT count(*) FROM movie_credits WHERE id = :i", i=lonely) == 0


def test_an_orm_bulk_delete_statement_audits_its_cascade(cascading, db_url):
    app, movie, credits = cascading
    Movie = app.extensions["backoffice.reflection"].tables["movies"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with audit_action("cleanup"):
            db.session.execute(delete(Movie).where(Movie.id == movie))
        db.session.commit()
    _check_movie_cascade(app, movie, credits, action="cleanup")


def test_a_key_update_audits_on_update_cascade_and_a_delete_audits_set_default(cascading, db_url):
    app, _movie, _credits = cascading
    client = app.test_client()
    token = csrf_token(client, "/admin/studios/edit/?id=2")
    response = client.post("/admin/studios/edit/?id=2", data={"csrf_token": token, "code": "ghibli", "name": "Ghibli"})
    assert response.status_code == 302
    [root] = _events(app, entity_type="studios")
    films = _events(app, entity_type="studio_films")
    assert len(films) == 2 and all(f["action"] == "update (cascade)" and f["caused_by"] == root["id"] for f in films)
    assert {f["changes"]["new"]["studio_code"] for f in films} == {"ghibli"}
    assert {f["changes"]["old"]["studio_code"] for f in films} == {"ghib"}

    response = client.post("/admin/studios/delete/", data={"csrf_token": token, "id": "2", "cascade_seen": "1"})
    assert response.status_code == 302
    deleted = _events(app, entity_type="studios")[-1]
    films = _events(app, entity_type="studio_films")[2:]
    assert len(films) == 2 and all(f["caused_by"] == deleted["id"] for f in films)
    assert {f["changes"]["new"]["studio_code"] for f in films} == {"none"}  # the column default, read back
    assert _count(app, "SELECT count(*) FROM studio_films WHERE studio_code = 'none'") == 2
    assert _verify(db_url).exit_code == 0


def test_a_cascade_too_large_to_list_still_states_its_counts(cascading):
    app, movie, credits = cascading
    Movie = app.extensions["backoffice.reflection"].tables["movies"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        preview = delete_preview(db.session, [db.session.get(Movie, movie)], app.extensions["backoffice.reflection"],
                                 max_rows=2)
        db.session.rollback()
    credit_effect = next(e for e in preview.effects if e.table == "movie_credits")
    assert credit_effect.count == len(credits) and not credit_effect.complete
    assert not preview.complete
