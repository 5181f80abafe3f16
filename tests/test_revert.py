"""Reverting audited changes (issue 20), data side: every kind, every conflict, on SQLite and PostgreSQL.

Each original change goes through the console's session (so it is audited like an
operator's), then :func:`audit_hooks.revert.execute_revert` undoes it; the tests read
the rows and the audit trail back with plain SQL.
"""
from __future__ import annotations

import threading

import pytest
from flask import g
from click.testing import CliRunner
from sqlalchemy import select, text

from audit_hooks.revert import RevertRefused, execute_revert, plan_revert, revert_request, reverted_by
from console.cli import main
from models.own import audit_events

from tests.test_audit_cascade import cascading  # noqa: F401  (fixture: movie -> credits -> notes -> flags)


def _db(app):
    return app.extensions["backoffice.db"]


def _model(app, screen):
    return app.extensions["backoffice.reflection"].tables[screen].model


def _change(app, fn):
    """Run ``fn(session)`` as an ordinary audited write; return the id of its first audit row."""
    with app.app_context():
        session = _db(app).session
        last = session.execute(select(audit_events.c.id).order_by(audit_events.c.id.desc())).scalar() or 0
        fn(session)
        session.commit()
        return session.execute(select(audit_events.c.id).where(audit_events.c.id > last, audit_events.c.caused_by.is_(None))
                               .order_by(audit_events.c.id)).scalar()


def _revert(app, event_id, reason="operator mistake", mode="clean"):
    with app.app_context():
        return execute_revert(_db(app).session, app.extensions["backoffice.reflection"], event_id, reason, mode)


def _plan(app, event_id):
    with app.app_context():
        plan = plan_revert(_db(app).session, app.extensions["backoffice.reflection"], event_id)
        _db(app).session.rollback()
        return plan


def _one(app, sql, **params):
    with app.app_context():
        return _db(app).session.execute(text(sql), params).first()


def _events(app, **where):
    with app.app_context():
        query = select(audit_events).order_by(audit_events.c.id)
        for name, value in where.items():
            query = query.where(audit_events.c[name] == value)
        return [dict(r) for r in _db(app).session.execute(query).mappings()]


def _verified(db_url):
    return CliRunner().invoke(main, ["audit-verify"], env={"DATABASE_URL": db_url}).exit_code == 0


def _set(screen, key, **values):
    def change(session):
        obj = session.get(_model_of[screen], key)
        for name, value in values.items():
            setattr(obj, name, value)
    return change


_model_of: dict = {}


@pytest.fixture
def console(app):
    _model_of.clear()
    for screen in ("movies", "people", "movie_credits", "genres"):
        _model_of[screen] = _model(app, screen)
    return app


def test_an_update_is_reverted_audited_and_linked(console, db_url):
    app = console
    before = _one(app, "SELECT title, overview FROM movies WHERE id = 1")
    event = _change(app, _set("movies", 1, title="Wrong title", overview="wrong"))
    outcome = _revert(app, event)
    assert outcome.done and _one(app, "SELECT title, overview FROM movies WHERE id = 1") == before
    [revert] = _events(app, action="revert")
    assert revert["id"] == outcome.revert_ids[0] and revert["changes"]["reverts"] == event
    assert revert["reason"] == "operator mistake"
    assert revert["changes"]["new"] == {"title": before[0], "overview": before[1]}
    with app.app_context():
        assert reverted_by(_db(app).session.connection(), [event]) == {event: revert["id"]}
    # the same event twice: refused, nothing written
    with pytest.raises(RevertRefused, match=f"already reverted by #{revert['id']}"):
        _revert(app, event)
    assert len(_events(app, action="revert")) == 1
    assert _verified(db_url)


def test_a_reason_is_required(console):
    event = _change(console, _set("movies", 1, title="x"))
    for reason in ("", "   ", None):
        with pytest.raises(RevertRefused, match="reason is required"):
            _revert(console, event, reason=reason)
    assert _one(console, "SELECT title FROM movies WHERE id = 1")[0] == "x"


def test_a_create_is_reverted_by_deleting_the_row(console):
    app = console
    event = _change(app, lambda s: s.add(_model_of["people"](id=990001, name="Nobody")))
    assert _revert(app, event).done
    assert _one(app, "SELECT count(*) FROM people WHERE id = 990001")[0] == 0
    [revert] = _events(app, action="revert")
    assert revert["changes"]["op"] == "delete" and revert["changes"]["old"]["name"] == "Nobody"


def test_a_revert_is_reverted_the_same_way(console, db_url):
    app = console
    original = _one(app, "SELECT title FROM movies WHERE id = 2")[0]
    event = _change(app, _set("movies", 2, title="Edited"))
    first = _revert(app, event).revert_ids[0]
    assert _one(app, "SELECT title FROM movies WHERE id = 2")[0] == original
    second = _revert(app, first, reason="the edit was right after all")
    assert second.done and _one(app, "SELECT title FROM movies WHERE id = 2")[0] == "Edited"
    assert _events(app, id=second.revert_ids[0])[0]["changes"]["reverts"] == first
    assert _verified(db_url)


def test_a_delete_is_restored_with_its_cascade_three_levels_deep(cascading, db_url):  # noqa: F811
    app, movie, credits = cascading
    tables = ("movies", "movie_credits", "credit_notes", "note_flags", "movie_genres", "movie_keywords",
              "tmdb_match_reviews")
    def snapshot():  # typed values (SQLite stores datetimes as text in more than one spelling)
        reflection = app.extensions["backoffice.reflection"]
        with app.app_context():
            connection = _db(app).session.connection()
            return {t: sorted(tuple(r) for r in connection.execute(select(reflection.tables[t].table)))
                    for t in (*tables, "watch_entries")}
    before = snapshot()
    Movie = _model(app, "movies")
    event = _change(app, lambda s: s.delete(s.get(Movie, movie)))
    assert _one(app, "SELECT count(*) FROM note_flags")[0] == 0
    plan = _plan(app, event)
    assert [s.table for s in plan.steps][:2] == ["movies", "movie_credits"] and not plan.conflicts
    outcome = _revert(app, event, reason="deleted the wrong movie")
    assert outcome.done
    after = snapshot()
    for table in before:
        assert [repr(r) for r in sorted(set(after[table]) ^ set(before[table]))] == [], table
    assert after == before  # every row back, SET NULL children re-linked
    reverts = _events(app, action="revert")
    assert len(reverts) == len(plan.steps) == len(outcome.revert_ids)
    restored = {r["changes"]["reverts"] for r in reverts}
    assert restored == {event} | {s.event_id for s in plan.steps}
    assert _verified(db_url)


def test_conflict_changed_refuses_then_partial_and_overwrite(console, db_url):
    app = console
    original = _one(app, "SELECT title, overview FROM movies WHERE id = 3")
    event = _change(app, _set("movies", 3, title="First edit", overview="first overview"))
    _change(app, _set("movies", 3, title="Second edit"))
    [step] = _plan(app, event).steps
    assert [(c.kind, c.column) for c in step.conflicts] == [("changed", "title")]
    assert step.now["title"] == "Second edit" and step.after["title"] == "First edit"
    assert step.before["title"] == original[0]
    with pytest.raises(RevertRefused, match=r"was changed after this event \(title\)"):
        _revert(app, event)
    assert _one(app, "SELECT title, overview FROM movies WHERE id = 3") == ("Second edit", "first overview")
    assert _revert(app, event, mode="partial").done  # only the overview goes back
    assert _one(app, "SELECT title, overview FROM movies WHERE id = 3") == ("Second edit", original[1])


def test_conflict_changed_overwritten_with_a_reason(console):
    app = console
    original = _one(app, "SELECT title FROM movies WHERE id = 4")[0]
    event = _change(app, _set("movies", 4, title="First edit"))
    _change(app, _set("movies", 4, title="Second edit"))
    assert _revert(app, event, reason="both edits were wrong", mode="overwrite").done
    assert _one(app, "SELECT title FROM movies WHERE id = 4")[0] == original


def test_conflict_gone_refuses_in_every_mode(console):
    app = console
    app_models = _model_of
    event = _change(app, lambda s: s.add(app_models["people"](id=990002, name="Temp")))
    update = _change(app, _set("people", 990002, name="Temp 2"))
    _change(app, lambda s: s.delete(s.get(app_models["people"], 990002)))
    for target in (event, update):
        assert [c.kind for c in _plan(app, target).steps[0].conflicts] == ["gone"]
        for mode in ("clean", "partial", "overwrite"):
            with pytest.raises(RevertRefused, match="no longer exists"):
                _revert(app, target, mode=mode)
    assert _events(app, action="revert") == []


def test_conflict_key_taken_by_primary_and_unique_key(console):
    app = console
    Genre = _model_of["genres"]
    _change(app, lambda s: s.add(Genre(id=990003, name="Temp genre")))
    deleted = _change(app, lambda s: s.delete(s.get(Genre, 990003)))
    _change(app, lambda s: s.add(Genre(id=990003, name="Another genre")))
    assert [c.kind for c in _plan(app, deleted).steps[0].conflicts] == ["key_taken"]
    with pytest.raises(RevertRefused, match="now has the key #990003"):
        _revert(app, deleted, mode="overwrite")
    # a unique key: the deleted person's tmdb_person_id now belongs to another person
    Person = _model_of["people"]
    _change(app, lambda s: s.add(Person(id=990006, name="Unique", tmdb_person_id=99000601)))
    gone = _change(app, lambda s: s.delete(s.get(Person, 990006)))
    _change(app, lambda s: s.add(Person(id=990007, name="Holder", tmdb_person_id=99000601)))
    assert [c.kind for c in _plan(app, gone).steps[0].conflicts] == ["key_taken"]
    with pytest.raises(RevertRefused, match="now has tmdb_person_id=99000601"):
        _revert(app, gone)
    assert _one(app, "SELECT count(*) FROM people WHERE id = 990006")[0] == 0


def test_conflict_missing_parent(console):
    app = console
    Person, Credit = _model_of["people"], _model_of["movie_credits"]
    _change(app, lambda s: s.add(Person(id=990004, name="Gone soon")))
    _change(app, lambda s: s.add(Credit(id=990005, movie_id=1, person_id=990004, credit_type="cast")))
    deleted = _change(app, lambda s: s.delete(s.get(Credit, 990005)))
    _change(app, lambda s: s.delete(s.get(Person, 990004)))
    conflicts = _plan(app, deleted).steps[0].conflicts
    assert [(c.kind, c.column) for c in conflicts] == [("missing_parent", "person_id")]
    with pytest.raises(RevertRefused, match="people with id=990004 no longer exists"):
        _revert(app, deleted, mode="overwrite")


def test_a_cascaded_row_is_restored_through_its_cause(cascading):  # noqa: F811
    app, movie, _credits = cascading
    event = _change(app, lambda s: s.delete(s.get(_model(app, "movies"), movie)))
    child = next(e for e in _events(app) if e["caused_by"] == event)
    with pytest.raises(RevertRefused, match=f"because of event #{event}"):
        _revert(app, child["id"])


def test_two_concurrent_reverts_produce_one(console, db_url):
    app = console
    event = _change(app, _set("movies", 5, title="Concurrent"))
    results, start = [], threading.Barrier(2)

    def worker():
        start.wait()
        try:
            results.append(_revert(app, event).done)
        except RevertRefused as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1, results
    assert len(_events(app, action="revert")) == 1
    assert _verified(db_url)


def test_every_event_of_one_request_is_reverted_with_an_outcome_each(console):
    app = console
    titles = {i: _one(app, "SELECT title FROM movies WHERE id = :i", i=i)[0] for i in (6, 7, 8)}
    rid = "bulk-req-1"
    with app.test_request_context("/admin/movies/action/"):
        g.request_id = rid  # as the request log sets it for every request
        session = _db(app).session
        for i in titles:
            session.get(_model_of["movies"], i).title = f"bulk {i}"
        session.commit()
    _change(app, _set("movies", 7, title="changed again"))
    with app.app_context():
        outcomes = revert_request(_db(app).session, app.extensions["backoffice.reflection"], rid, "bulk mistake")
    assert [o.done for o in outcomes] == [True, False, True]
    assert "changed after this event" in outcomes[1].message
    assert _one(app, "SELECT title FROM movies WHERE id = 6")[0] == titles[6]
    assert _one(app, "SELECT title FROM movies WHERE id = 7")[0] == "changed again"


@pytest.fixture
def rekeyed(db_url, make_app):
    """Studios whose code two tables reference: one ON UPDATE CASCADE, one ON UPDATE SET NULL."""
    from sqlalchemy import create_engine as plain_engine

    from backoffice.core.settings import normalise_database_url
    engine = plain_engine(normalise_database_url(db_url))
    with engine.begin() as connection:
        for statement in (
            "CREATE TABLE studios (id INTEGER PRIMARY KEY, code VARCHAR(20) NOT NULL UNIQUE, name TEXT)",
            "CREATE TABLE studio_films (id INTEGER PRIMARY KEY, studio_code VARCHAR(20) "
            "REFERENCES studios(code) ON UPDATE CASCADE, title TEXT)",
            "CREATE TABLE studio_posters (id INTEGER PRIMARY KEY, studio_code VARCHAR(20) "
            "REFERENCES studios(code) ON UPDATE SET NULL, file TEXT)",
            "INSERT INTO studios VALUES (1, 'ghib', 'Ghibli')",
            "INSERT INTO studio_films VALUES (1, 'ghib', 'Totoro'), (2, 'ghib', 'Kiki')",
            "INSERT INTO studio_posters VALUES (1, 'ghib', 'totoro.png')",
        ):
            connection.execute(text(statement))
    engine.dispose()
    return make_app()


def test_a_rekey_is_reverted_with_what_the_database_changed_with_it(rekeyed, db_url):
    app = rekeyed
    studios = _model(app, "studios")
    event = _change(app, lambda s: setattr(s.get(studios, 1), "code", "ghibli"))
    assert _one(app, "SELECT count(*) FROM studio_films WHERE studio_code = 'ghibli'")[0] == 2
    assert _one(app, "SELECT studio_code FROM studio_posters WHERE id = 1")[0] is None
    plan = _plan(app, event)
    assert [s.table for s in plan.steps] == ["studios", "studio_posters"] and not plan.conflicts
    outcome = _revert(app, event)
    assert outcome.done, outcome.message
    assert _one(app, "SELECT code FROM studios WHERE id = 1")[0] == "ghib"
    # ON UPDATE CASCADE: the database follows the key back; ON UPDATE SET NULL: the revert puts it back
    assert _one(app, "SELECT count(*) FROM studio_films WHERE studio_code = 'ghib'")[0] == 2
    assert _one(app, "SELECT studio_code FROM studio_posters WHERE id = 1")[0] == "ghib"
    reverts = {e["id"]: e for e in _events(app) if e["id"] in outcome.revert_ids}
    assert {e["entity_type"] for e in reverts.values()} == {"studios", "studio_posters"}
    # the films the database re-keyed are audited as caused by the studio's revert
    followed = [e for e in _events(app, entity_type="studio_films") if e["caused_by"] in reverts]
    assert sorted(e["changes"]["new"]["studio_code"] for e in followed) == ["ghib", "ghib"]
    assert _verified(db_url)
