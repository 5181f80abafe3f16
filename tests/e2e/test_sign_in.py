"""Signing in through the browser's basic-auth prompt; the console without auth."""
from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from console.app import create_app

from tests.e2e.conftest import serve
from tests.e2e.support import ADMIN, VIEWER, assert_fits, screenshot


def test_the_browser_is_asked_for_credentials(new_context, live_server):
    page = new_context().new_page()  # no credentials at all: the person cancels the prompt
    seen = []
    page.on("response", lambda response: seen.append(response))
    try:
        page.goto("/admin/")
    except PlaywrightError as exc:  # headless Chromium cannot show the prompt: it cancels it
        assert "ERR_INVALID_AUTH_CREDENTIALS" in str(exc)
    challenge = next(r for r in seen if r.url == live_server("/admin/"))
    assert challenge.status == 401
    # The challenge is what makes a browser show its username/password prompt.
    assert challenge.headers["www-authenticate"] == 'Basic realm="Backoffice Operators"'
    expect(page.locator("table")).to_have_count(0)


def test_a_wrong_password_is_refused(new_context, live_server):
    page = new_context(http_credentials={"username": ADMIN.username, "password": "not the password"}).new_page()
    response = page.goto("/admin/movies/")
    assert response.status == 401
    expect(page.locator("h1")).to_contain_text("Sign-in required")
    expect(page.locator("table.model-list")).to_have_count(0)
    screenshot(page, "sign-in-refused")


@pytest.mark.parametrize("account", [ADMIN, VIEWER], ids=lambda a: a.role)
def test_the_right_password_at_the_prompt_opens_the_console(new_context, live_server, account):
    page = new_context(http_credentials=account.credentials).new_page()
    response = page.goto("/admin/")
    assert response.status == 200
    expect(page.locator("nav.navbar")).to_contain_text(f"{account.username} · {account.role}")
    expect(page.locator(".backoffice-banner")).to_have_count(0)  # auth is on: no warning


def test_without_auth_every_page_says_so(page, sqlite_demo_template, tmp_path):
    database = tmp_path / "open.sqlite"
    shutil.copyfile(sqlite_demo_template[0], database)
    app = create_app({"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "open-console",
                      "LOG_LEVEL": "ERROR"})
    url, stop = serve(app)
    try:
        for path in ("/admin/", "/admin/movies/", "/admin/review-queue/"):
            page.goto(url + path)
            banner = page.locator(".backoffice-banner")
            expect(banner).to_contain_text("operator auth is off")
            expect(banner).to_have_class(re.compile(r"alert-danger"))
        expect(page.locator("nav.navbar")).to_contain_text("local · admin")
        screenshot(page, "auth-off-banner")
    finally:
        stop()
