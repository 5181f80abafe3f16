"""The layout in Chromium (issue 19, item 3): dark mode remembered across page loads and
painted before the body (no flash), the sidebar folding at 768px and usable by keyboard,
the jump-to box, and no page wider than the window; every request stays on this host
(the context guard of tests/e2e/conftest.py)."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.support import ADMIN, LAPTOP, TABLET, assert_fits, screenshot

#: Records the theme <html> carries when <body> is first inserted: what the first paint shows.
THEME_AT_BODY = """
new MutationObserver(function (changes, observer) {
  if (document.body) {
    window.__themeAtBody = document.documentElement.getAttribute('data-theme');
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""


def _theme(page) -> str:
    return page.evaluate("document.documentElement.getAttribute('data-theme')")


def test_dark_mode_toggles_is_remembered_and_never_flashes(new_context, live_server):
    context = new_context(extra_http_headers=ADMIN.headers, color_scheme="light")
    context.add_init_script(THEME_AT_BODY)
    page = context.new_page()
    page.goto(live_server("/admin/"))
    assert _theme(page) == "light"
    toggle = page.locator(".backoffice-theme-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    assert _theme(page) == "dark"
    expect(toggle).to_have_attribute("aria-pressed", "true")

    page.goto(live_server("/admin/movies/"))
    assert _theme(page) == "dark"
    assert page.evaluate("window.__themeAtBody") == "dark"  # set before the body existed
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(23, 25, 28)"
    assert_fits(page)
    screenshot(page, "movies-dark")

    page.locator(".backoffice-theme-toggle").click()
    page.reload()
    assert _theme(page) == "light" and page.evaluate("window.__themeAtBody") == "light"
    context.close()


def test_without_a_choice_the_system_setting_is_followed(new_context, live_server):
    context = new_context(extra_http_headers=ADMIN.headers, color_scheme="dark")
    context.add_init_script(THEME_AT_BODY)
    page = context.new_page()
    page.goto(live_server("/admin/"))
    assert _theme(page) == "dark" and page.evaluate("window.__themeAtBody") == "dark"
    context.close()


def test_sidebar_folds_at_768px_and_works_by_keyboard(page, live_server):
    page.set_viewport_size(LAPTOP)
    page.goto("/admin/")
    sidebar = page.locator("nav#backoffice-sidebar")
    expect(sidebar).to_be_visible()
    expect(page.locator(".backoffice-sidebar-toggle")).to_be_hidden()
    assert_fits(page)

    page.set_viewport_size(TABLET)
    page.reload()
    expect(sidebar).to_be_hidden()
    toggle = page.locator(".backoffice-sidebar-toggle")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(sidebar).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    group = sidebar.locator("details", has_text="Catalog")
    summary = group.locator("summary")
    summary.focus()
    page.keyboard.press("Enter")  # a <summary> folds its group from the keyboard
    expect(group).not_to_have_attribute("open", "")
    page.keyboard.press("Enter")
    link = group.get_by_role("link", name="Catalog health", exact=True)
    expect(link).to_be_visible()
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/catalog-health/")
    assert_fits(page)
    screenshot(page, "catalog-health-tablet")


def test_jump_box_finds_a_screen_and_a_record(page, live_server):
    page.set_viewport_size(LAPTOP)
    page.goto("/admin/")
    box = page.get_by_label("Jump to a screen or a record")
    box.fill("genres")
    box.press("Enter")
    page.wait_for_url("**/admin/jump/?q=genres")
    page.locator(".backoffice-jump-screens").get_by_role("link", name="genres", exact=True).click()
    page.wait_for_url("**/admin/genres/")

    page.get_by_label("Jump to a screen or a record").fill("7")
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/jump/?q=7")
    link = page.locator(".backoffice-jump-records a[href='/admin/movies/details/?id=7']")
    expect(link).to_have_count(1)
    assert_fits(page)
    link.click()
    page.wait_for_url("**/admin/movies/details/?id=7")


def test_dashboard_fits_light_and_dark(page, live_server):
    page.set_viewport_size(LAPTOP)
    page.goto("/admin/catalog-health/")  # computes and stores the first report
    expect(page.locator("body")).not_to_contain_text("Computing", timeout=30_000)
    page.goto("/admin/")
    expect(page.locator(".backoffice-health-card").first).to_be_visible()
    expect(page.locator(".backoffice-queue-state", has_text="pending")).to_be_visible()
    expect(page.locator(".backoffice-status-item", has_text="Database")).to_contain_text("answers")
    assert_fits(page)
    screenshot(page, "dashboard-cards")
    page.locator(".backoffice-theme-toggle").click()
    assert_fits(page)
    screenshot(page, "dashboard-dark")
    page.set_viewport_size(TABLET)
    page.reload()
    assert_fits(page)
