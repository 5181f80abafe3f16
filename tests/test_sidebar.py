"""The sidebar is rendered once per distinct menu (views/sidebar.py): it must be exactly
what the ``side_menu`` macro renders on this request, whichever role asked before, and
follow any change of an entry's permission or of the menu itself."""
import re

import pytest
from flask_admin.menu import MenuLink

from tests.auth_helpers import basic, write_users

PASSWORD = "a long enough password"
ROLES = ("admin", "viewer", "operator")


def _sidebar(response) -> str:
    assert response.status_code == 200
    found = re.search(r'<nav id="backoffice-sidebar".*?</nav>', response.get_data(as_text=True), re.S)
    assert found
    return found.group(0)


def _movies(app):
    return next(v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None) == "movies")


@pytest.fixture
def roles_app(make_app, tmp_path):
    users = write_users(tmp_path / "users.txt", {role: (role, PASSWORD) for role in ROLES})
    return make_app(OPERATOR_AUTH_USERS_FILE=str(users))


def test_each_role_gets_its_own_menu_whoever_asked_first(roles_app):
    client, view = roles_app.test_client(), _movies(roles_app)
    shown = {}
    for _ in range(2):  # the second round is served from the renderings of the first
        for role in ROLES:
            view.fast_sidebar = True
            fast = _sidebar(client.get("/admin/movies/", headers=basic(role, PASSWORD)))
            view.fast_sidebar = False
            slow = _sidebar(client.get("/admin/movies/", headers=basic(role, PASSWORD)))
            assert fast == slow, role
            shown.setdefault(role, fast)
            assert shown[role] == fast
    view.fast_sidebar = True
    # The roles do see different menus (else this test proves nothing).
    assert len({shown[role] for role in ROLES}) > 1
    assert 'aria-current="page"' in shown["viewer"]


def test_a_screen_closed_at_run_time_leaves_the_menu_at_once(roles_app):
    client = roles_app.test_client()
    headers = basic("admin", PASSWORD)
    audit = next(v for v in roles_app.extensions["backoffice.admin"]._views
                 if v.endpoint != _movies(roles_app).endpoint and v.is_visible() and getattr(v, "view_role", None))
    link = f'href="{audit.url}'
    assert link in _sidebar(client.get("/admin/movies/", headers=headers))
    audit.view_role = None  # nobody may open it now: not a matter of role
    assert link not in _sidebar(client.get("/admin/movies/", headers=headers))


def test_an_entry_added_or_renamed_after_the_first_page_appears(roles_app):
    client = roles_app.test_client()
    headers = basic("viewer", PASSWORD)
    admin = roles_app.extensions["backoffice.admin"]
    before = _sidebar(client.get("/admin/movies/", headers=headers))
    link = MenuLink(name="Runbook <ops>", url="https://example.org/runbook")
    admin.add_menu_item(link)
    after = _sidebar(client.get("/admin/movies/", headers=headers))
    assert after != before and "Runbook &lt;ops&gt;" in after and "<ops>" not in after
    link.name = "Runbook v2"
    assert "Runbook v2" in _sidebar(client.get("/admin/movies/", headers=headers))
