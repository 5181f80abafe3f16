"""Revert and restore through HTTP: confirmation with three columns, signed token, CSRF, roles as 404,
"reverted by #N" in the history, "Recently deleted" per table, bulk revert of one request."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from models.own import audit_events

from tests.conftest import outside_sql
from tests.auth_helpers import ADMIN, ENV, basic, write_users
from tests.test_audit_cascade import cascading  # noqa: F401

OWNER = basic(*ADMIN)
OPERATOR = basic("otto", "pw-otto")
VIEWER = basic("vera", "pw-vera")


@pytest.fixture
def roles_app(make_app, tmp_path):
    users = write_users(tmp_path / "users", {"vera": ("viewer", "pw-vera"), "otto": ("operator", "pw-otto")})
    return make_app(OPERATOR_AUTH_USERS_FILE=users, **ENV)


def _scalar(app, sql, **params):
    with app.app_context():
        return app.extensions["backoffice.db"].session.execute(text(sql), params).scalar()


def _token(html: str, name: str) -> str:
    return re.search(rf'name="{name}" type="hidden" value="([^"]+)"', html).group(1)


def _last_event(app, **where) -> dict:
    with app.app_context():
        query = select(audit_events).order_by(audit_events.c.id.desc())
        for key, value in where.items():
            query = query.where(audit_events.c[key] == value)
        return dict(app.extensions["backoffice.db"].session.execute(query).mappings().first())


def _genres(app, *ids):
    for gid in ids:
        outside_sql(app, "INSERT INTO genres (id, tmdb_genre_id, name) VALUES (:i, :i, :n)", i=gid, n=f"genre {gid}")


def _rename(client, gid: int, name: str, headers):
    token = _token(client.get(f"/admin/genres/edit/?id={gid}", headers=headers).get_data(as_text=True), "csrf_token")
    response = client.post(f"/admin/genres/edit/?id={gid}", headers=headers,
                           data={"csrf_token": token, "name": name, "tmdb_genre_id": str(gid)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def test_revert_an_edit_from_the_history(roles_app):
    app, client = roles_app, roles_app.test_client()
    _genres(app, 9101)
    original = "genre 9101"
    _rename(client, 9101, "Oops", OPERATOR)
    event = _last_event(app, entity_type="genres", action="update")
    history = client.get("/admin/audit/", headers=OPERATOR).get_data(as_text=True)
    assert f'/admin/revert/?event={event["id"]}' in history
    page = client.get(f"/admin/revert/?event={event['id']}", headers=OPERATOR)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "before the event" in html and "No conflict" in html
    assert re.search(r'data-column="name">\s*<td>name</td>\s*<td><code>' + re.escape(original), html)
    form = {"csrf_token": _token(html, "csrf_token"), "token": _token(html, "token"), "mode": "clean"}
    # no reason: refused, nothing changed
    response = client.post("/admin/revert/", data=form, headers=OPERATOR)
    assert response.status_code == 409 and "a reason is required" in response.get_data(as_text=True)
    assert _scalar(app, "SELECT name FROM genres WHERE id = 9101") == "Oops"
    # no CSRF token: refused before anything
    response = client.post("/admin/revert/", data={**form, "csrf_token": "", "reason": "typo"}, headers=OPERATOR)
    assert response.status_code == 400
    # a forged selection: refused
    response = client.post("/admin/revert/", data={**form, "token": "eyJldmVudCI6MX0.forged", "reason": "x"},
                           headers=OPERATOR)
    assert response.status_code == 400
    assert _scalar(app, "SELECT name FROM genres WHERE id = 9101") == "Oops"
    response = client.post("/admin/revert/", data={**form, "reason": "typo in the title"}, headers=OPERATOR)
    assert response.status_code == 302
    assert _scalar(app, "SELECT name FROM genres WHERE id = 9101") == original
    revert = _last_event(app, action="revert")
    assert revert["changes"]["reverts"] == event["id"] and revert["actor"] == "otto"
    history = client.get("/admin/audit/", headers=OPERATOR).get_data(as_text=True)
    assert f'reverted by <a href="#event-{revert["id"]}">#{revert["id"]}</a>' in history


def test_a_viewer_gets_404_and_an_operator_cannot_revert_a_delete(roles_app):
    app, client = roles_app, roles_app.test_client()
    _genres(app, 9102)
    _rename(client, 9102, "Edited", OPERATOR)
    event = _last_event(app, entity_type="genres", action="update")
    assert client.get(f"/admin/revert/?event={event['id']}", headers=VIEWER).status_code == 404
    html = client.get(f"/admin/revert/?event={event['id']}", headers=OPERATOR).get_data(as_text=True)
    form = {"csrf_token": _token(html, "csrf_token"), "token": _token(html, "token"), "reason": "x"}
    assert client.post("/admin/revert/", data=form, headers=VIEWER).status_code == 404
    assert _scalar(app, "SELECT name FROM genres WHERE id = 9102") == "Edited"
    # a delete needed an admin (delete_role): restoring it needs one too
    page = client.get("/admin/genres/details/?id=9102", headers=OWNER).get_data(as_text=True)
    client.post("/admin/genres/delete/", data={"csrf_token": _token(page, "csrf_token"), "id": "9102"}, headers=OWNER)
    deleted = _last_event(app, entity_type="genres", action="delete")
    assert client.get(f"/admin/revert/?event={deleted['id']}", headers=OPERATOR).status_code == 404
    assert client.get("/admin/revert/deleted/genres", headers=OPERATOR).status_code == 404
    assert client.get(f"/admin/revert/?event={deleted['id']}", headers=OWNER).status_code == 200


def test_a_conflict_shows_three_columns_and_refuses_by_default(roles_app):
    app, client = roles_app, roles_app.test_client()
    _genres(app, 9103)
    _rename(client, 9103, "First", OPERATOR)
    first = _last_event(app, entity_type="genres", action="update")
    _rename(client, 9103, "Second", OPERATOR)
    html = client.get(f"/admin/revert/?event={first['id']}", headers=OPERATOR).get_data(as_text=True)
    assert "1 conflict(s)" in html and 'data-kind="changed"' in html
    row = re.search(r'<tr class="table-danger" data-column="name">(.*?)</tr>', html, re.S).group(1)
    assert "<code>First</code>" in row and "<code>Second</code>" in row and "changed since" in row
    form = {"csrf_token": _token(html, "csrf_token"), "token": _token(html, "token"), "reason": "undo", "mode": "clean"}
    response = client.post("/admin/revert/", data=form, headers=OPERATOR)
    assert response.status_code == 409 and "was changed after this event (name)" in response.get_data(as_text=True)
    assert _scalar(app, "SELECT name FROM genres WHERE id = 9103") == "Second"
    assert client.post("/admin/revert/", data={**form, "mode": "overwrite"}, headers=OPERATOR).status_code == 302
    assert _scalar(app, "SELECT name FROM genres WHERE id = 9103") == "genre 9103"


def test_recently_deleted_lists_and_restores_a_movie_with_its_credits(cascading):  # noqa: F811
    app, movie, credits = cascading
    client = app.test_client()
    page = client.get(f"/admin/movies/details/?id={movie}").get_data(as_text=True)
    assert "/admin/revert/deleted/movies" in page
    client.post("/admin/movies/delete/", data={"csrf_token": _token(page, "csrf_token"), "id": str(movie),
                                               "cascade_seen": "1"})  # as the details page's form posts
    assert _scalar(app, "SELECT count(*) FROM movie_credits WHERE movie_id = :m", m=movie) == 0
    listing = client.get("/admin/revert/deleted/movies").get_data(as_text=True)
    event = _last_event(app, entity_type="movies", action="delete")
    assert f'data-entity="{movie}"' in listing and f"/admin/revert/?event={event['id']}" in listing
    assert f'data-entity="{movie}"' not in client.get("/admin/revert/deleted/movies?actor=somebody-else").get_data(as_text=True)
    assert client.get("/admin/revert/deleted/movies?from=yesterday").status_code == 400
    html = client.get(f"/admin/revert/?event={event['id']}").get_data(as_text=True)
    assert "Restore movies #" in html and html.count("Restore movie_credits #") == len(credits)
    form = {"csrf_token": _token(html, "csrf_token"), "token": _token(html, "token"), "reason": "wrong movie"}
    assert client.post("/admin/revert/", data=form).status_code == 302
    assert _scalar(app, "SELECT count(*) FROM movie_credits WHERE movie_id = :m", m=movie) == len(credits)
    assert _scalar(app, "SELECT count(*) FROM note_flags") == 3
    listing = client.get("/admin/revert/deleted/movies").get_data(as_text=True)
    assert "restored by #" in listing


def test_every_change_of_one_bulk_request_reverted_with_outcomes(roles_app):
    app, client = roles_app, roles_app.test_client()
    _genres(app, 990101, 990102, 990103)
    url = "/admin/genres/bulk-delete/?id=990101&id=990102&id=990103"
    page = client.get(url, headers=OWNER).get_data(as_text=True)
    response = client.post(url, data={"csrf_token": _token(page, "csrf_token"), "reason": "cleanup"}, headers=OWNER)
    assert response.status_code == 302
    assert _scalar(app, "SELECT count(*) FROM genres WHERE id > 990100") == 0
    rid = _last_event(app, entity_type="genres", action="delete")["request_id"]
    html = client.get(f"/admin/revert/request?rid={rid}", headers=OWNER).get_data(as_text=True)
    assert html.count("<td>revert</td>") == 3
    assert client.get(f"/admin/revert/request?rid={rid}", headers=VIEWER).status_code == 404
    form = {"csrf_token": _token(html, "csrf_token"), "token": _token(html, "token"), "reason": "bulk by mistake",
            "mode": "clean"}
    done = client.post("/admin/revert/request", data=form, headers=OWNER).get_data(as_text=True)
    assert done.count('data-done="yes"') == 3
    assert _scalar(app, "SELECT count(*) FROM genres WHERE id > 990100") == 3


def test_the_declarative_file_switches_revert_off_or_raises_its_role(make_app, tmp_path, db_url):
    users = write_users(tmp_path / "users", {"otto": ("operator", "pw-otto")})
    config = tmp_path / "backoffice.toml"
    config.write_text('[views.genres]\nrevert = false\n\n[views.people]\nrevert_role = "admin"\n')
    app = make_app(OPERATOR_AUTH_USERS_FILE=users, BACKOFFICE_CONFIG=str(config), **ENV)
    client = app.test_client()
    _genres(app, 9201)
    _rename(client, 9201, "Renamed", OPERATOR)
    event = _last_event(app, entity_type="genres", action="update")
    assert client.get(f"/admin/revert/?event={event['id']}", headers=OWNER).status_code == 404
    assert client.get("/admin/revert/deleted/genres", headers=OWNER).status_code == 404
    assert f"/admin/revert/?event={event['id']}" in client.get("/admin/audit/", headers=OWNER).get_data(as_text=True)
    outside_sql(app, "INSERT INTO people (id, name) VALUES (9202, 'P')")
    token = _token(client.get("/admin/people/edit/?id=9202", headers=OPERATOR).get_data(as_text=True), "csrf_token")
    assert client.post("/admin/people/edit/?id=9202", headers=OPERATOR,
                       data={"csrf_token": token, "name": "Q"}).status_code == 302
    edit = _last_event(app, entity_type="people", action="update")
    assert client.get(f"/admin/revert/?event={edit['id']}", headers=OPERATOR).status_code == 404
    assert client.get(f"/admin/revert/?event={edit['id']}", headers=OWNER).status_code == 200


def test_backoffice_check_validates_the_revert_options(sqlite_demo_url, tmp_path):
    from click.testing import CliRunner

    from console.cli import main

    config = tmp_path / "backoffice.toml"
    config.write_text('[views.genres]\nrevert_role = "admn"\n\n[views.people]\nrevert = false\nrevert_role = "admin"\n'
                      '\n[views.movies]\nrevert = "no"\n')
    result = CliRunner().invoke(main, ["check"], env={"DATABASE_URL": sqlite_demo_url, "BACKOFFICE_CONFIG": str(config)})
    assert result.exit_code == 1
    assert "views.genres.revert_role: unknown role 'admn'; did you mean 'admin'? [backoffice.E037]" in result.output
    assert "[backoffice.W016]" in result.output and "views.movies.revert" in result.output


def test_a_queue_decision_is_reversed_through_its_declared_reverse(app):
    from tests.test_review_queue import _applicable, _confirm, _execute

    client = app.test_client()
    review = _applicable(app)
    html = _confirm(client, row_action=f"apply:{review['id']}").get_data(as_text=True)
    assert _execute(client, html).status_code in (200, 302)
    assert _scalar(app, "SELECT tmdb_id FROM movies WHERE id = :m", m=review["movie_id"]) == review["candidate_tmdb_id"]
    applied = _last_event(app, entity_type="tmdb_match_reviews", action="review.apply")
    page = client.get(f"/admin/revert/?event={applied['id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Put back movies #" in html and "Put back tmdb_match_reviews #" in html
    form = {"csrf_token": _token(html, "csrf_token"), "token": _token(html, "token"), "reason": "wrong match"}
    assert client.post("/admin/revert/", data=form).status_code == 302
    assert _scalar(app, "SELECT status FROM tmdb_match_reviews WHERE id = :i", i=review["id"]) == "pending"
    assert _scalar(app, "SELECT tmdb_id FROM movies WHERE id = :m", m=review["movie_id"]) == review["movie_tmdb_id"]
    # a second revert of the same decision, from the movie's row of it: already reverted
    movie_event = _last_event(app, entity_type="movies", action="review.apply")
    html = client.get(f"/admin/revert/?event={movie_event['id']}").get_data(as_text=True)
    assert re.search(r"already reverted by <a[^>]*>#\d+</a>", html) and "revert-form" not in html
    reverts = [e for e in (_last_event(app, action="review.revert"),) if e["changes"].get("reverts")]
    assert reverts and reverts[0]["reason"] == "wrong match"


def test_a_queue_action_declared_irreversible_is_refused(make_app, tmp_path):
    from tests.test_review_queue import _applicable, _confirm, _execute

    config = tmp_path / "backoffice.toml"
    config.write_text('[queues.tmdb_matches]\ntable = "tmdb_match_reviews"\nurl = "review-queue"\n'
                      'subject = { table = "movies", column = "movie_id" }\n'
                      '[queues.tmdb_matches.actions.defer]\nfrom = ["pending"]\nto = "deferred"\nreverse = "none"\n')
    app = make_app(BACKOFFICE_CONFIG=str(config))
    client = app.test_client()
    review = _applicable(app)
    html = _confirm(client, row_action=f"defer:{review['id']}").get_data(as_text=True)
    assert _execute(client, html).status_code in (200, 302)
    deferred = _last_event(app, entity_type="tmdb_match_reviews", action="review.defer")
    html = client.get(f"/admin/revert/?event={deferred['id']}").get_data(as_text=True)
    assert "declares &#39;review.defer&#39; irreversible" in html and "revert-form" not in html


def test_never_shown_columns_stay_hidden_on_the_confirmation(make_app, tmp_path):
    config = tmp_path / "backoffice.toml"
    config.write_text('[views.movies]\nnever_show = ["imdb_id"]\n')
    app = make_app(BACKOFFICE_CONFIG=str(config))
    Movie = app.extensions["backoffice.reflection"].tables["movies"].model
    with app.app_context():
        session = app.extensions["backoffice.db"].session
        session.get(Movie, 1).imdb_id = "tt-secret-1"
        session.commit()
        session.get(Movie, 1).imdb_id = "tt-secret-2"
        session.commit()
    first = _last_event(app, entity_type="movies", action="update")["id"] - 1
    html = app.test_client().get(f"/admin/revert/?event={first}").get_data(as_text=True)
    assert "imdb_id" in html and "(hidden)" in html
    assert "tt-secret" not in html
