"""Reasons the declarative file requires ([views.<table>] reason = {...}): every write path
refuses on the server without one (forged posts with a valid CSRF token), writes nothing,
keeps what the operator typed, and stores the reason on the audit row; on SQLite and
PostgreSQL (the ``db_url`` fixture), and once through real gunicorn workers."""
from __future__ import annotations

import http.client
import re
import textwrap
import urllib.parse
from pathlib import Path

import pytest
from sqlalchemy import select, text

from audit_hooks import audit_action
from models.own import audit_events
from views.base import ReflectedModelView
from views.names import views_of

from tests.conftest import csrf_token, outside_sql
from tests.gunicorn_server import Gunicorn

REASONS = """
[views."*"]
reason = { delete = "required" }

[views.genres]
reason = { create = "required", edit = "required" }

[views.keywords]
reason = { export = "required" }

[views.movies]
reason = { bulk = "required" }
actions = { resync = { label = "Resync", set = { tmdb_synced_at = "null()" } } }
"""


def _config(tmp_path: Path, toml: str = REASONS) -> str:
    path = tmp_path / "reasons.toml"
    path.write_text(textwrap.dedent(toml), encoding="utf-8")
    return str(path)


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(BACKOFFICE_CONFIG=_config(tmp_path))


def _events(app, **where) -> list[dict]:
    with app.app_context():
        query = select(audit_events).order_by(audit_events.c.id)
        for name, value in where.items():
            query = query.where(audit_events.c[name] == value)
        return [dict(r) for r in app.extensions["backoffice.db"].session.execute(query).mappings()]


def _scalar(app, sql: str, **params):
    with app.app_context():
        return app.extensions["backoffice.db"].session.execute(text(sql), params).scalar()


def _keywords(app, n: int) -> list[int]:
    """``n`` keywords no movie uses (written as test set-up, audited)."""
    model = app.extensions["backoffice.reflection"].tables["keywords"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with audit_action("test.setup"):
            rows = [model(name=f"spare keyword {i}") for i in range(n)]
            db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def _count(app, table: str, ids: list[int]) -> int:
    return _scalar(app, f"SELECT count(*) FROM {table} WHERE id IN ({','.join(map(str, ids))})")


def test_a_create_without_its_required_reason_is_refused_and_keeps_what_was_typed(app):
    client = app.test_client()
    token = csrf_token(client, "/admin/genres/new/")
    page = client.get("/admin/genres/new/").get_data(as_text=True)
    assert "Required; recorded in the audit trail." in page
    refused = client.post("/admin/genres/new/", data={"csrf_token": token, "name": "Neo-noir revival",
                                                      "tmdb_genre_id": "4242"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "A reason is required for this change." in html
    assert 'value="Neo-noir revival"' in html and 'value="4242"' in html  # nothing the operator typed is lost
    assert _scalar(app, "SELECT count(*) FROM genres WHERE name = 'Neo-noir revival'") == 0
    assert _events(app, entity_type="genres") == []
    blank = client.post("/admin/genres/new/", data={"csrf_token": token, "name": "Neo-noir revival",
                                                    "audit_reason": "   "})
    assert blank.status_code == 422  # spaces are not a reason
    done = client.post("/admin/genres/new/", data={"csrf_token": token, "name": "Neo-noir revival",
                                                   "audit_reason": "requested by the editors"})
    assert done.status_code == 302
    [event] = _events(app, entity_type="genres")
    assert (event["action"], event["reason"]) == ("create", "requested by the editors")


def test_an_edit_without_its_required_reason_is_refused_and_nothing_changes(app):
    client = app.test_client()
    before = _scalar(app, "SELECT name FROM genres WHERE id = 2")
    token = csrf_token(client, "/admin/genres/edit/?id=2")
    refused = client.post("/admin/genres/edit/?id=2", data={"csrf_token": token, "name": "Renamed genre"})
    assert refused.status_code == 422
    assert 'value="Renamed genre"' in refused.get_data(as_text=True)
    assert _scalar(app, "SELECT name FROM genres WHERE id = 2") == before
    done = client.post("/admin/genres/edit/?id=2", data={"csrf_token": token, "name": "Renamed genre",
                                                         "audit_reason": "typo in the genre"})
    assert done.status_code == 302
    assert _scalar(app, "SELECT name FROM genres WHERE id = 2") == "Renamed genre"
    [event] = _events(app, entity_type="genres")
    assert (event["action"], event["entity_id"], event["reason"]) == ("update", "2", "typo in the genre")


class _InlineGenres(ReflectedModelView):
    column_editable_list = ["name"]
    reasons = {"edit": "required"}


def test_an_inline_edit_cannot_skip_a_required_reason(app):
    entry = app.extensions["backoffice.reflection"].tables["genres"]
    app.extensions["backoffice.admin"].add_view(_InlineGenres(
        entry, "genres", app.extensions["backoffice.db"], endpoint="inline_genres", url="/admin/inline-genres"))
    client = app.test_client()
    before = _scalar(app, "SELECT name FROM genres WHERE id = 3")
    token = csrf_token(client, "/admin/genres/new/")
    refused = client.post("/admin/inline-genres/ajax/update/",
                          data={"csrf_token": token, "list_form_pk": "3", "name": "Inline rename"})
    assert refused.status_code == 422 and "A reason is required to edit rows" in refused.get_data(as_text=True)
    assert _scalar(app, "SELECT name FROM genres WHERE id = 3") == before
    assert _events(app, entity_type="genres") == []
    done = client.post("/admin/inline-genres/ajax/update/", data={
        "csrf_token": token, "list_form_pk": "3", "name": "Inline rename", "audit_reason": "house style"})
    assert done.status_code == 200
    assert [e["reason"] for e in _events(app, entity_type="genres")] == ["house style"]


def test_a_single_delete_without_its_reason_asks_for_one_and_deletes_nothing(app):
    [keyword] = _keywords(app, 1)
    client = app.test_client()
    token = csrf_token(client, "/admin/keywords/new/")
    asked = client.post("/admin/keywords/delete/", data={"csrf_token": token, "id": str(keyword),
                                                         "url": "/admin/keywords/"})
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "A reason is required to delete rows of keywords" in html
    assert f"spare keyword 0" in html  # the confirmation page names the row
    assert _count(app, "keywords", [keyword]) == 1
    assert _events(app, action="delete") == []
    done = client.post("/admin/keywords/delete/", data={"csrf_token": token, "id": str(keyword),
                                                        "url": "/admin/keywords/", "audit_reason": "duplicate"})
    assert done.status_code == 302 and _count(app, "keywords", [keyword]) == 0
    [event] = _events(app, action="delete")
    assert (event["entity_id"], event["reason"]) == (str(keyword), "duplicate")


def test_a_bulk_delete_without_its_reason_is_refused_and_deletes_nothing(app):
    ids = _keywords(app, 3)
    client = app.test_client()
    page = client.get("/admin/keywords/bulk-delete/?" + urllib.parse.urlencode({"id": ids}, doseq=True))
    form = {"csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                                    page.get_data(as_text=True)).group(1),
            "id": [str(i) for i in ids], "url": "/admin/keywords/"}
    refused = client.post("/admin/keywords/bulk-delete/", data=form)
    assert refused.status_code == 422 and "A reason is required to delete rows" in refused.get_data(as_text=True)
    assert _count(app, "keywords", ids) == 3 and _events(app, action="delete") == []
    done = client.post("/admin/keywords/bulk-delete/", data={**form, "reason": "spam keywords"})
    assert done.status_code == 302 and _count(app, "keywords", ids) == 0
    deleted = _events(app, action="delete")
    assert sorted(int(e["entity_id"]) for e in deleted) == ids and {e["reason"] for e in deleted} == {"spam keywords"}


def test_a_declared_action_takes_the_screens_bulk_reason(app):
    client = app.test_client()
    ids = [r["id"] for r in outside_sql(app, "SELECT id FROM movies WHERE tmdb_synced_at IS NOT NULL "
                                             "ORDER BY id LIMIT 2")]
    token = csrf_token(client, "/admin/movies/")
    page = client.post("/admin/movies/action/", data={"csrf_token": token, "action": "declared:resync",
                                                      "rowid": [str(i) for i in ids]})
    html = page.get_data(as_text=True)
    form = {"csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1),
            "token": re.search(r'name="token" value="([^"]+)"', html).group(1)}
    refused = client.post("/admin/movies/declared-action/", data=form)
    assert refused.status_code == 422 and "A reason is required" in refused.get_data(as_text=True)
    assert _scalar(app, f"SELECT count(*) FROM movies WHERE tmdb_synced_at IS NULL AND id IN "
                        f"({','.join(map(str, ids))})") == 0
    done = client.post("/admin/movies/declared-action/", data={**form, "reason": "posters changed"})
    assert done.status_code == 302
    assert {e["reason"] for e in _events(app, action="action.resync")} == {"posters changed"}


def test_an_export_with_a_required_reason_asks_first_and_records_it(app):
    client = app.test_client()
    url = "/admin/keywords/export/csv/?search=spare+keyword"
    _keywords(app, 2)
    asked = client.get(url)
    assert asked.status_code == 200 and asked.mimetype == "text/html"
    assert "requires a reason for every export" in asked.get_data(as_text=True)
    token = csrf_token(client, url)
    refused = client.post(url, data={"csrf_token": token, "reason": " "})
    assert refused.status_code == 422 and "A reason is required to export rows" in refused.get_data(as_text=True)
    assert client.post(url, data={"reason": "no csrf"}).status_code == 400
    assert _events(app, action="export") == []
    done = client.post(url, data={"csrf_token": token, "reason": "quarterly keyword review"})
    assert done.status_code == 200 and done.mimetype == "text/csv"
    body = done.get_data(as_text=True)
    assert body.count("spare keyword") == 2
    [event] = _events(app, action="export")
    assert event["reason"] == "quarterly keyword review"
    assert event["changes"]["new"]["rows"] == len(body.strip().splitlines()) - 1
    assert "search=spare+keyword" in event["changes"]["new"]["url"]  # the list's query string came along


def test_a_screen_without_an_export_reason_exports_on_get(app):
    response = app.test_client().get("/admin/genres/export/csv/")
    assert response.status_code == 200 and response.mimetype == "text/csv"


def test_the_console_wide_default_merges_key_by_key(app):
    """[views."*"] requires a delete reason; genres' own reason table adds create/edit, keeps delete."""
    screens = {v.screen: v for v in views_of(app) if isinstance(v, ReflectedModelView)}
    assert screens["genres"].reasons == {"delete": "required", "create": "required", "edit": "required"}
    assert screens["people"].reasons == {"delete": "required"}


@pytest.mark.slow
def test_through_gunicorn_a_forged_delete_without_reason_deletes_nothing(sqlite_demo_url, tmp_path):
    """Real workers: a delete POST with a valid CSRF token but no reason is answered with the
    confirmation page, and the row is still there; with a reason it is deleted and audited."""
    server = Gunicorn.start({"DATABASE_URL": sqlite_demo_url, "SECRET_KEY": "gunicorn-secret", "LOG_LEVEL": "INFO",
                             "BACKOFFICE_CONFIG": _config(tmp_path)}, cwd=tmp_path, workers=2)
    try:
        cookies: dict[str, str] = {}

        def call(method: str, path: str, form: dict | None = None):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
            body = None
            if form is not None:
                body = urllib.parse.urlencode(form, doseq=True)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    cookies[key] = rest.split(";", 1)[0]
            data = response.read().decode()
            conn.close()
            return response.status, data

        status, html = call("GET", "/admin/genres/new/")
        assert status == 200
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)

        class _App:  # outside_sql reads the URL from an app's config
            config = {"SQLALCHEMY_DATABASE_URI": sqlite_demo_url}

        outside_sql(_App, "INSERT INTO keywords (name) VALUES ('gunicorn spare')")
        keyword = outside_sql(_App, "SELECT id FROM keywords WHERE name = 'gunicorn spare'")[0]["id"]
        status, html = call("POST", "/admin/keywords/delete/", {"csrf_token": token, "id": keyword})
        assert status == 200 and "A reason is required to delete rows of keywords" in html
        assert outside_sql(_App, f"SELECT count(*) AS n FROM keywords WHERE id = {keyword}")[0]["n"] == 1
        status, _html = call("POST", "/admin/keywords/delete/", {"csrf_token": token, "id": keyword,
                                                                 "audit_reason": "through gunicorn"})
        assert status == 302
        assert outside_sql(_App, f"SELECT count(*) AS n FROM keywords WHERE id = {keyword}")[0]["n"] == 0
        reasons = outside_sql(_App, "SELECT reason FROM backoffice_audit_events WHERE action = 'delete' "
                                    f"AND entity_type = 'keywords' AND entity_id = '{keyword}'")
        assert [r["reason"] for r in reasons] == ["through gunicorn"]
    finally:
        server.stop()
