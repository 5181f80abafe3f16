"""Every write path of the console goes through the audit hooks, on SQLite and PostgreSQL."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, delete, insert, select, text, update
from sqlalchemy.orm import Session

from audit_hooks import AuditError, AuditGuardError, AuditVeto, audit_action
from backoffice.core.access import Operator
from backoffice.core.settings import normalise_database_url
from models.own import audit_events
from views.base import ReflectedModelView

from tests.conftest import csrf_token


def always_veto(changeset):
    """A hook for these tests: refuses everything but test setup, with a sentence for the operator."""
    if changeset.action != "test.setup":
        raise AuditVeto("Changes are frozen for the release.")


def crash(changeset):
    """A hook for these tests: fails like a bug would."""
    raise RuntimeError("hook crashed")


def events(app, **where):
    with app.app_context():
        db = app.extensions["backoffice.db"]
        query = select(audit_events).order_by(audit_events.c.id)
        for name, value in where.items():
            query = query.where(audit_events.c[name] == value)
        return [dict(r) for r in db.session.execute(query).mappings()]


def scalar(app, sql, **params):
    with app.app_context():
        return app.extensions["backoffice.db"].session.execute(text(sql), params).scalar()


def model(app, screen):
    return app.extensions["backoffice.reflection"].tables[screen].model


def test_create_edit_delete_through_the_screens_are_audited(app, client):
    token = csrf_token(client, "/admin/genres/new/")
    response = client.post("/admin/genres/new/", data={"csrf_token": token, "name": "Noir", "tmdb_genre_id": "77",
                                                       "audit_reason": "new genre for the autumn"},
                           headers={"X-Request-Id": "req-create-0001"})
    assert response.status_code == 302
    genre_id = scalar(app, "SELECT id FROM genres WHERE name = 'Noir'")
    [created] = events(app, entity_type="genres")
    assert created["action"] == "create" and created["entity_id"] == str(genre_id)
    assert created["changes"]["new"] == {"id": genre_id, "name": "Noir", "tmdb_genre_id": 77}
    assert (created["actor"], created["actor_role"]) == ("local", "admin")
    assert created["reason"] == "new genre for the autumn"
    assert created["request_id"] == "req-create-0001" and created["client_addr"] == "127.0.0.1"
    assert not hasattr(model(app, "genres"), "audit_reason")

    response = client.post(f"/admin/genres/edit/?id={genre_id}",
                           data={"csrf_token": token, "name": "Film noir", "tmdb_genre_id": "77"})
    assert response.status_code == 302
    edited = events(app, entity_type="genres")[-1]
    assert edited["action"] == "update"
    assert edited["changes"]["old"] == {"name": "Noir"} and edited["changes"]["new"] == {"name": "Film noir"}

    response = client.post("/admin/genres/delete/", data={"csrf_token": token, "id": str(genre_id),
                                                          "audit_reason": "duplicate"})
    assert response.status_code == 302
    deleted = events(app, entity_type="genres")[-1]
    assert deleted["action"] == "delete" and deleted["reason"] == "duplicate"
    assert deleted["changes"]["old"] == {"id": genre_id, "name": "Film noir", "tmdb_genre_id": 77}
    assert scalar(app, "SELECT count(*) FROM genres WHERE id = :i", i=genre_id) == 0


def test_a_vetoing_hook_leaves_data_and_audit_unchanged_and_the_operator_sees_why(make_app):
    app = make_app(BACKOFFICE_AUDIT_HOOKS="tests.test_audit_writes:always_veto")
    client = app.test_client()
    token = csrf_token(client, "/admin/genres/new/")
    [keyword] = _unused_keywords(app, 1)
    before = len(events(app))

    response = client.post("/admin/genres/new/", data={"csrf_token": token, "name": "Noir", "tmdb_genre_id": "1"},
                           follow_redirects=True)
    assert "Changes are frozen for the release." in response.get_data(as_text=True)
    response = client.post(f"/admin/keywords/edit/?id={keyword}", data={"csrf_token": token, "name": "Changed"},
                           follow_redirects=True)
    assert "Changes are frozen for the release." in response.get_data(as_text=True)
    response = client.post("/admin/keywords/delete/", data={"csrf_token": token, "id": str(keyword)},
                           follow_redirects=True)
    assert "Changes are frozen for the release." in response.get_data(as_text=True)

    assert scalar(app, "SELECT count(*) FROM genres WHERE name = 'Noir'") == 0
    assert scalar(app, "SELECT name FROM keywords WHERE id = :i", i=keyword) == "unused 0"
    assert scalar(app, "SELECT count(*) FROM keywords WHERE id = :i", i=keyword) == 1
    assert len(events(app)) == before
    assert before == 1  # the setup keyword


def test_a_crashing_hook_rolls_back_too(make_app):
    app = make_app(BACKOFFICE_AUDIT_HOOKS="tests.test_audit_writes:crash")
    client = app.test_client()
    token = csrf_token(client, "/admin/genres/new/")
    response = client.post("/admin/genres/new/", data={"csrf_token": token, "name": "Noir"}, follow_redirects=True)
    assert response.status_code == 422 and "hook crashed" in response.get_data(as_text=True)
    assert scalar(app, "SELECT count(*) FROM genres WHERE name = 'Noir'") == 0
    assert events(app) == []


class InlineGenres(ReflectedModelView):
    column_editable_list = ["name"]


def _with_inline_screen(app):
    entry = app.extensions["backoffice.reflection"].tables["genres"]
    app.extensions["backoffice.admin"].add_view(
        InlineGenres(entry, "genres", app.extensions["backoffice.db"], endpoint="inline_genres",
                     url="/admin/inline-genres"))
    return app


def test_inline_edit_is_audited_and_a_veto_is_a_4xx_with_the_reason(make_app):
    app = _with_inline_screen(make_app())
    client = app.test_client()
    token = csrf_token(client, "/admin/genres/new/")
    response = client.post("/admin/inline-genres/ajax/update/",
                           data={"csrf_token": token, "list_form_pk": "2", "name": "Inline name"})
    assert response.status_code == 200
    [event] = events(app)
    assert event["entity_id"] == "2" and event["changes"]["new"] == {"name": "Inline name"}

    vetoed = _with_inline_screen(make_app(BACKOFFICE_AUDIT_HOOKS="tests.test_audit_writes:always_veto"))
    client = vetoed.test_client()
    token = csrf_token(client, "/admin/genres/new/")
    response = client.post("/admin/inline-genres/ajax/update/",
                           data={"csrf_token": token, "list_form_pk": "3", "name": "Refused"})
    assert response.status_code == 422
    assert "Changes are frozen for the release." in response.get_data(as_text=True)
    assert scalar(vetoed, "SELECT name FROM genres WHERE id = 3") != "Refused"


def _bulk_delete(client, ids, reason=None):
    token = csrf_token(client, "/admin/keywords/new/")
    response = client.post("/admin/keywords/action/", data={"csrf_token": token, "action": "delete",
                                                            "rowid": [str(i) for i in ids]})
    assert response.status_code == 302 and "/admin/keywords/bulk-delete/" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    form_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    data = {"csrf_token": form_token, "id": [str(i) for i in ids], "url": "/admin/keywords/"}
    if reason:
        data["reason"] = reason
    return client.post("/admin/keywords/bulk-delete/", data=data)


def _unused_keywords(app, n):
    """Create ``n`` keywords no movie uses (audited as ``test.setup``) and return their ids."""
    Keyword = model(app, "keywords")
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with audit_action("test.setup"):
            rows = [Keyword(name=f"unused {i}") for i in range(n)]
            db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def test_bulk_delete_is_one_transaction_and_a_veto_deletes_nothing(make_app):
    app = make_app(BACKOFFICE_AUDIT_HOOKS="audit_hooks.examples:require_delete_reason")
    client = app.test_client()
    ids = _unused_keywords(app, 3)
    assert len(ids) == 3
    refused = _bulk_delete(client, ids)
    assert refused.status_code == 422
    assert "A reason is required to delete rows of keywords" in refused.get_data(as_text=True)
    assert scalar(app, f"SELECT count(*) FROM keywords WHERE id IN ({','.join(map(str, ids))})") == 3
    assert events(app, action="delete") == []

    done = _bulk_delete(client, ids, reason="unused keywords")
    assert done.status_code == 302
    assert scalar(app, f"SELECT count(*) FROM keywords WHERE id IN ({','.join(map(str, ids))})") == 0
    rows = events(app, action="delete")
    assert sorted(int(e["entity_id"]) for e in rows) == sorted(ids)
    assert {e["reason"] for e in rows} == {"unused keywords"}


def test_fast_mass_delete_and_orm_bulk_statements_are_audited(app):
    Keyword, Movie = model(app, "keywords"), model(app, "movies")
    ids = _unused_keywords(app, 2)
    with app.app_context():
        db = app.extensions["backoffice.db"]
        # what Flask-Admin's fast_mass_delete runs: a Query.delete(), no flush, no on_model_delete
        assert db.session.query(Keyword).filter(Keyword.id.in_(ids)).delete(synchronize_session=False) == 2
        with audit_action("catalog.fix_runtime", reason="minutes, not seconds"):
            db.session.execute(update(Movie).where(Movie.id.in_([1, 2])).values(runtime_minutes=99))
        db.session.commit()
    rows = events(app)
    deletes = [e for e in rows if e["action"] == "delete"]
    assert sorted(int(e["entity_id"]) for e in deletes) == sorted(ids)
    assert all(e["action"] == "delete" and e["changes"]["old"]["id"] == int(e["entity_id"]) for e in deletes)
    runtime = [e for e in rows if e["entity_type"] == "movies"]
    assert [e["action"] for e in runtime] == ["catalog.fix_runtime"] * len(runtime) and runtime
    assert all(e["changes"]["new"] == {"runtime_minutes": 99} for e in runtime)


def test_custom_action_api_for_other_subsystems(app):
    Review, Movie = model(app, "tmdb_match_reviews"), model(app, "movies")
    with app.app_context():
        db = app.extensions["backoffice.db"]
        review = db.session.execute(select(Review).where(Review.status == "pending").limit(1)).scalar_one()
        movie = db.session.get(Movie, review.movie_id)
        with audit_action("review.apply", reason="poster and year match", actor=Operator("ana", "operator")):
            review.status = "applied"
            movie.tmdb_id = 987654321
        db.session.commit()
    rows = events(app, action="review.apply")
    assert {e["entity_type"] for e in rows} == {"tmdb_match_reviews", "movies"}
    assert {(e["actor"], e["actor_role"], e["reason"]) for e in rows} == {("ana", "operator",
                                                                           "poster and year match")}
    movie_event = next(e for e in rows if e["entity_type"] == "movies")
    assert movie_event["changes"]["new"] == {"tmdb_id": 987654321}


def test_a_veto_inside_audit_action_is_raised_where_the_caller_can_show_it(make_app):
    app = make_app(BACKOFFICE_AUDIT_HOOKS="tests.test_audit_writes:always_veto")
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with pytest.raises(AuditError, match="frozen"):
            with audit_action("review.reject", reason="wrong film"):
                db.session.get(model(app, "genres"), 1).name = "rejected"
        db.session.rollback()
    assert scalar(app, "SELECT name FROM genres WHERE id = 1") != "rejected"
    assert events(app) == []


@pytest.mark.parametrize("statement", [
    "UPDATE movies SET title = 'x' WHERE id = 1",
    "delete from \"movies\" where id = 1",
    "INSERT INTO genres (name) VALUES ('x')",
    "WITH gone AS (DELETE FROM genres WHERE id = 1 RETURNING id) SELECT count(*) FROM gone",
])
def test_the_guard_refuses_raw_writes_to_reflected_tables(app, statement):
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with pytest.raises(AuditGuardError, match="refused"):
            db.session.execute(text(statement))
        db.session.rollback()
        with pytest.raises(AuditGuardError, match="refused"), db.engine.begin() as connection:
            connection.exec_driver_sql(statement)
        with pytest.raises(AuditGuardError, match="refused"), Session(db.engine) as other:
            other.execute(text(statement))
    assert scalar(app, "SELECT count(*) FROM movies WHERE id = 1") == 1
    assert events(app) == []


def test_the_guard_refuses_unauditable_orm_statements_and_allows_reads(app):
    Genre = model(app, "genres")
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with pytest.raises(AuditGuardError, match="bulk INSERT into genres"):
            db.session.execute(insert(Genre), [{"name": "a"}, {"name": "b"}])
        db.session.rollback()
        with pytest.raises(AuditGuardError, match="another session"), Session(db.engine) as other:
            other.add(Genre(name="sneaky"))
            try:
                other.commit()
            except AuditGuardError as exc:
                raise AuditGuardError(f"another session: {exc}") from exc
        assert db.session.execute(text("SELECT count(*) FROM genres WHERE name LIKE 'update%'")).scalar() == 0
        with pytest.raises(AuditGuardError, match="append-only"):
            db.session.execute(delete(audit_events))
        db.session.rollback()
    assert scalar(app, "SELECT count(*) FROM genres WHERE name IN ('a', 'b', 'sneaky')") == 0


def test_the_guard_refuses_a_bulk_orm_update_or_delete_with_returning(app):
    Genre = model(app, "genres")
    with app.app_context():
        db = app.extensions["backoffice.db"]
        for statement in (update(Genre).where(Genre.id == 1).values(name="r").returning(Genre.id),
                          delete(Genre).where(Genre.id == 1).returning(Genre.name)):
            with pytest.raises(AuditGuardError, match="this form of bulk statement on genres"):
                db.session.execute(statement)
            db.session.rollback()
    assert scalar(app, "SELECT count(*) FROM genres WHERE id = 1 AND name <> 'r'") == 1
    assert events(app) == []


def test_a_flush_writing_rows_the_collector_did_not_see_is_refused(app):
    """A hook that writes a reflected table behind the collector's back cannot slip it in."""
    from audit_hooks.hookspecs import hookimpl

    class Sneaky:
        @hookimpl
        def audit_changeset(self, changeset):
            changeset.connection.execute(text("UPDATE genres SET name = 'sneaky' WHERE id = 2"))

    app.extensions["backoffice.audit"].register(Sneaky())
    with app.app_context():
        db = app.extensions["backoffice.db"]
        db.session.get(model(app, "genres"), 1).name = "Visible"
        with pytest.raises(AuditGuardError, match="2 row\\(s\\) of genres \\(update\\) but only 1"):
            db.session.commit()
        db.session.rollback()
    assert scalar(app, "SELECT count(*) FROM genres WHERE name IN ('sneaky', 'Visible')") == 0
    assert events(app) == []


def test_other_engines_are_not_the_consoles_business(db_url, app):
    """The guard sits on the console's engine only: maintenance scripts use their own."""
    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as connection:
        connection.execute(text("UPDATE genres SET name = 'maintenance' WHERE id = 1"))
    engine.dispose()
    assert scalar(app, "SELECT name FROM genres WHERE id = 1") == "maintenance"
