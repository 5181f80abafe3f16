"""The demo console as backoffice/demo/demo.toml tunes it: menu, keyboard search, empty results."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.support import REPO, TABLET, assert_fits, screenshot


@pytest.fixture(scope="module")
def console_env():
    return {"BACKOFFICE_CONFIG": str(REPO / "backoffice" / "demo" / "demo.toml")}


def test_the_menu_follows_the_operators_day(page, live_server):
    page.goto("/admin/")
    groups = [t.strip() for t in page.locator("nav.backoffice-sidebar summary").all_text_contents()]
    assert groups[0] == "Catalog"
    assert groups.index("Reviews") < groups.index("Audit")
    assert "Schema" not in groups or groups[-1] == "Schema"
    expect(page.locator("nav.backoffice-sidebar details", has_text="Catalog")).to_contain_text("Movies")


def test_the_search_box_is_reachable_from_the_keyboard(page, live_server):
    page.goto("/admin/movies/")
    search = page.locator('form[role=search] input[name="search"]')
    expect(search).to_have_attribute("accesskey", "s")
    expect(search).not_to_be_focused()
    page.keyboard.press("/")
    expect(search).to_be_focused()
    page.keyboard.type("Silent Harbor")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"search=Silent\+Harbor"))
    cells = page.locator("table.model-list tbody td.col-title")
    # The URL changes when the navigation commits; the rows are read once the new page shows them
    # (all_inner_texts does not wait, and may read a document still loading).
    expect(page.locator("form[role=search] input[name=search]")).to_have_value("Silent Harbor")
    expect(cells.first).to_be_visible()
    titles = cells.all_inner_texts()
    assert titles and all("Silent" in t and "Harbor" in t for t in titles)  # every word matches
    assert_fits(page)
    screenshot(page, "list")

    # "/" typed inside a field is just a character
    search = page.locator('form[role=search] input[name="search"]')
    search.fill("")
    search.press_sequentially("a/b")
    expect(search).to_have_value("a/b")


def test_a_search_without_results_says_what_to_do(page, live_server):
    page.goto("/admin/movies/?search=zzz-no-such-film")
    empty = page.locator(".backoffice-empty")
    expect(empty).to_contain_text("No rows of Movies match the search “zzz-no-such-film”")
    empty.get_by_role("link", name="show all rows").click()
    expect(page.locator("table.model-list tbody tr")).to_have_count(50)


def test_tuned_screens_fit_a_tablet(page, live_server):
    page.set_viewport_size(TABLET)
    for path in ("/admin/movies/", "/admin/movies/details/?id=1", "/admin/movies/edit/?id=1",
                 "/admin/tmdb_match_reviews/", "/admin/audit/", "/admin/people/"):
        page.goto(path)
        assert_fits(page)
    screenshot(page, "list-tablet")
