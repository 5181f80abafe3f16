"""The first run in a real browser (issue 19, items 1 and 8): the console as the README's
run command starts it (no DATABASE_URL, no declarative file: the embedded demo catalog,
seeded on first start and tuned by its own file), with basic auth on, at 1366 and 768 px.

This module also takes the README's named set of screenshots (``console-*.png``, listed
in docs/screenshots/README.md); ``bash scripts/screenshots`` runs it with
BACKOFFICE_SCREENSHOTS pointing at docs/screenshots.
"""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from console.app import create_app
from tests.auth_helpers import write_users
from tests.e2e.conftest import LiveServer, serve
from tests.e2e.support import ADMIN, OPERATOR, TABLET, VIEWER, assert_fits, screenshot


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """``create_app`` with no DATABASE_URL and no BACKOFFICE_CONFIG, started in an empty
    folder as ``bash scripts/run`` would be; auth on as everywhere in tests/e2e."""
    workdir = tmp_path_factory.mktemp("first-run")
    users = write_users(workdir / "users", {a.username: (a.role, a.password) for a in (OPERATOR, VIEWER)})
    before = os.getcwd()
    os.chdir(workdir)  # the instance folder, and so the demo database, goes here
    try:
        app = create_app({"SECRET_KEY": "first-run-secret", "LOG_LEVEL": "WARNING",
                          "OPERATOR_AUTH_USERNAME": ADMIN.username, "OPERATOR_AUTH_PASSWORD": ADMIN.password,
                          "OPERATOR_AUTH_USERS_FILE": str(users)})
        url, stop = serve(app)
        with app.app_context():
            database_url = app.extensions["backoffice.db"].engine.url.render_as_string(hide_password=False)
        yield LiveServer(url, database_url, app, {a.role: a for a in (ADMIN, OPERATOR, VIEWER)})
        stop()
        with app.app_context():
            app.extensions["backoffice.db"].engine.dispose()
    finally:
        os.chdir(before)


def test_the_first_list_is_the_tuned_one(page, live_server):
    assert live_server.app.extensions["backoffice.declarations"].path.name == "demo.toml"
    assert live_server.database_url.endswith("backoffice-demo.sqlite"), live_server.database_url
    page.goto("/admin/movies/")
    headers = [h.strip() for h in page.locator("table.model-list thead th").all_inner_texts() if h.strip()]
    assert "TMDB sync" in headers, headers  # a label only the demo's file declares
    assert "Overview" not in headers  # long text stays on the details page
    assert len(headers) <= 8, headers
    assert_fits(page)
    page.set_viewport_size(TABLET)
    page.reload()
    assert_fits(page)


def test_a_wrong_password_sees_nothing_of_the_catalog(new_context, live_server):
    page = new_context(http_credentials={"username": ADMIN.username, "password": "not the password"}).new_page()
    response = page.goto("/admin/movies/")
    assert response.status == 401
    expect(page.locator("table.model-list")).to_have_count(0)
    assert "TMDB sync" not in page.content()


#: The README's set: name -> path, taken at 1366 px (and the list again at 768 px).
SCREENS = {
    "console-dashboard": "/admin/",
    "console-list": "/admin/movies/",
    "console-details": "/admin/movies/details/?id=1",
    "console-edit": "/admin/movies/edit/?id=1",
    "console-review-queue": "/admin/review-queue/",
    "console-catalog-health": "/admin/catalog-health/",
    "console-audit": "/admin/audit/",
}


def test_the_named_screenshots(page, new_context, live_server):
    for name, path in SCREENS.items():
        response = page.goto(path)
        assert response.status == 200, f"{path} answered {response.status}"
        assert_fits(page)
        screenshot(page, name)
    page.goto("/admin/review-queue/")
    page.locator("tr.queue-item").first.get_by_role("button", name="Apply").click()
    expect(page.locator("h5")).to_contain_text("Apply: 1 row")
    screenshot(page, "console-review-confirm")  # nothing is applied: the confirmation only
    page.set_viewport_size(TABLET)
    page.goto("/admin/movies/")
    assert_fits(page)
    screenshot(page, "console-list-tablet")

    dark = new_context(color_scheme="dark", extra_http_headers=ADMIN.headers).new_page()
    dark.goto("/admin/")
    assert dark.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    assert_fits(dark)
    screenshot(dark, "console-dashboard-dark")
