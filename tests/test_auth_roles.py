"""Roles: viewer reads, operator edits, admin creates and deletes; forbidden is a 404."""
from __future__ import annotations

import re

import pytest
from flask_admin import BaseView, expose
from sqlalchemy import text

from views.access import RoleGuardMixin, require_role

from tests.conftest import outside_sql
from tests.auth_helpers import ADMIN, ENV, basic, write_users

VIEWER = basic("vera", "pw-vera")
OPERATOR = basic("otto", "pw-otto")
OWNER = basic(*ADMIN)


@pytest.fixture
def roles_app(make_app, tmp_path):
    users = write_users(tmp_path / "users", {"vera": ("viewer", "pw-vera"), "otto": ("operator", "pw-otto")})
    return make_app(OPERATOR_AUTH_USERS_FILE=users, **ENV)


def _scalar(app, sql, **params):
    with app.app_context():
        return app.extensions["backoffice.db"].session.execute(text(sql), params).scalar()


def _token(client, url="/admin/genres/new/"):
    """A valid CSRF token of this client's session (fetched as the admin)."""
    html = client.get(url, headers=OWNER).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _not_found_body(response) -> str:
    return re.sub(r"[0-9a-f]{32}", "RID", response.get_data(as_text=True))


def test_viewer_posting_a_create_form_gets_404_and_nothing_changes(roles_app):
    client = roles_app.test_client()
    token = _token(client)
    before = _scalar(roles_app, "SELECT count(*) FROM genres")
    form = {"csrf_token": token, "name": "Noir", "tmdb_genre_id": "1"}
    forbidden = client.post("/admin/genres/new/", data=form, headers=VIEWER)
    missing = client.post("/admin/no-such-table/new/", data=form, headers=VIEWER)
    assert forbidden.status_code == missing.status_code == 404
    assert _not_found_body(forbidden) == _not_found_body(missing)
    # Even without a CSRF token: a 404 like a missing page, not a CSRF 400 that betrays the page.
    assert client.post("/admin/genres/new/", data={"name": "Noir"}, headers=VIEWER).status_code == 404
    assert client.get("/admin/genres/new/", headers=VIEWER).status_code == 404
    assert _scalar(roles_app, "SELECT count(*) FROM genres") == before


def test_viewer_cannot_edit_delete_or_act(roles_app):
    client = roles_app.test_client()
    token = _token(client)
    name = _scalar(roles_app, "SELECT name FROM genres WHERE id = 1")
    assert client.get("/admin/genres/edit/?id=1", headers=VIEWER).status_code == 404
    assert client.post("/admin/genres/edit/?id=1", data={"csrf_token": token, "name": "Changed"},
                       headers=VIEWER).status_code == 404
    assert client.post("/admin/genres/delete/", data={"csrf_token": token, "id": "1"},
                       headers=VIEWER).status_code == 404
    assert client.post("/admin/genres/action/", data={"csrf_token": token, "action": "delete", "rowid": "1"},
                       headers=VIEWER).status_code == 404
    assert client.post("/admin/genres/ajax/update/", data={"csrf_token": token, "list_form_pk": "1",
                                                           "name": "Changed"}, headers=VIEWER).status_code == 404
    assert _scalar(roles_app, "SELECT name FROM genres WHERE id = 1") == name


def test_viewer_sees_no_create_edit_or_delete_buttons_but_can_read_and_export(roles_app):
    client = roles_app.test_client()
    html = client.get("/admin/genres/", headers=VIEWER).get_data(as_text=True)
    assert "/admin/genres/details/?id=1" in html
    for url in ("/admin/genres/new/", "/admin/genres/edit/", "/admin/genres/delete/", "/admin/genres/action/"):
        assert url not in html, url
    details = client.get("/admin/genres/details/?id=1", headers=VIEWER).get_data(as_text=True)
    assert "/admin/genres/edit/" not in details
    assert client.get("/admin/genres/export/csv/", headers=VIEWER).status_code == 200
    # The admin sees all of them on the same page.
    html = client.get("/admin/genres/", headers=OWNER).get_data(as_text=True)
    for url in ("/admin/genres/new/", "/admin/genres/edit/", "/admin/genres/delete/"):
        assert url in html, url


def test_operator_edits_but_does_not_create_or_delete(roles_app):
    client = roles_app.test_client()
    token = _token(client)
    html = client.get("/admin/genres/", headers=OPERATOR).get_data(as_text=True)
    assert "/admin/genres/edit/" in html
    assert "/admin/genres/new/" not in html and "/admin/genres/delete/" not in html
    # A genre without movies, so the partial form cannot touch any link rows.
    outside_sql(roles_app, "INSERT INTO genres (id, tmdb_genre_id, name) VALUES (9001, 9001, 'Spare')")
    response = client.post("/admin/genres/edit/?id=9001", headers=OPERATOR,
                           data={"csrf_token": token, "name": "Edited by otto", "tmdb_genre_id": "9001"})
    assert response.status_code == 302
    assert _scalar(roles_app, "SELECT name FROM genres WHERE id = 9001") == "Edited by otto"
    assert client.get("/admin/genres/new/", headers=OPERATOR).status_code == 404
    assert client.post("/admin/genres/delete/", data={"csrf_token": token, "id": "2"},
                       headers=OPERATOR).status_code == 404
    assert _scalar(roles_app, "SELECT count(*) FROM genres WHERE id = 2") == 1


def test_admin_creates_and_deletes(roles_app):
    client = roles_app.test_client()
    token = _token(client)
    assert client.post("/admin/genres/new/", headers=OWNER,
                       data={"csrf_token": token, "name": "Noir", "tmdb_genre_id": "1"}).status_code == 302
    assert _scalar(roles_app, "SELECT count(*) FROM genres WHERE name = 'Noir'") == 1
    new_id = _scalar(roles_app, "SELECT id FROM genres WHERE name = 'Noir'")
    assert client.post("/admin/genres/delete/", headers=OWNER,
                       data={"csrf_token": token, "id": str(new_id)}).status_code == 302
    assert _scalar(roles_app, "SELECT count(*) FROM genres WHERE name = 'Noir'") == 0


def test_a_screen_above_the_role_is_absent_from_menu_and_dashboard(roles_app):
    admin = roles_app.extensions["backoffice.admin"]
    [view] = [v for v in admin._views if getattr(v, "screen", None) == "keywords"]
    view.view_role = "operator"
    client = roles_app.test_client()
    for page in ("/admin/", "/admin/movies/"):
        assert 'href="/admin/keywords/"' not in client.get(page, headers=VIEWER).get_data(as_text=True), page
        assert 'href="/admin/keywords/"' in client.get(page, headers=OPERATOR).get_data(as_text=True), page
    assert client.get("/admin/keywords/", headers=VIEWER).status_code == 404
    assert client.get("/admin/keywords/details/?id=1", headers=VIEWER).status_code == 404
    assert client.get("/admin/keywords/export/csv/", headers=VIEWER).status_code == 404


class _ReviewPage(RoleGuardMixin, BaseView):
    """A custom page like the review queue: readable by viewers, its POST for operators."""

    @expose("/")
    def index(self):
        return "queue"

    @expose("/decide/", methods=("POST",))
    @require_role("operator")
    def decide(self):
        return "decided"


class _AuditPage(RoleGuardMixin, BaseView):
    view_role = "admin"

    @expose("/")
    def index(self):
        return "audit"


def test_custom_pages_use_require_role_and_view_role(roles_app):
    admin = roles_app.extensions["backoffice.admin"]
    admin.add_view(_ReviewPage(name="Review", endpoint="test_review", url="/admin/test-review"))
    admin.add_view(_AuditPage(name="Audit", endpoint="test_audit", url="/admin/test-audit"))
    client = roles_app.test_client()
    token = _token(client)
    assert client.get("/admin/test-review/", headers=VIEWER).status_code == 200
    assert client.post("/admin/test-review/decide/", data={"csrf_token": token}, headers=VIEWER).status_code == 404
    assert client.post("/admin/test-review/decide/", data={}, headers=VIEWER).status_code == 404
    response = client.post("/admin/test-review/decide/", data={"csrf_token": token}, headers=OPERATOR)
    assert response.get_data(as_text=True) == "decided"
    menu = client.get("/admin/", headers=OPERATOR).get_data(as_text=True)
    assert "/admin/test-review/" in menu and "/admin/test-audit/" not in menu
    assert client.get("/admin/test-audit/", headers=OPERATOR).status_code == 404
    assert client.get("/admin/test-audit/", headers=OWNER).get_data(as_text=True) == "audit"
    assert "/admin/test-audit/" in client.get("/admin/", headers=OWNER).get_data(as_text=True)
