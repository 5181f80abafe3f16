"""The generated screens in a real browser: dashboard, list, detail, edit, export."""
from __future__ import annotations

import csv
import io
import re

from playwright.sync_api import expect

from tests.e2e.support import TABLET, assert_fits, screenshot

LONG_OVERVIEW = ("A harbour town keeps a secret for forty years, until a storm washes the evidence "
                 "ashore and the lighthouse keeper's daughter starts asking questions nobody answers.")


def test_dashboard_lists_every_table_with_its_count(page, live_server):
    page.goto("/admin/")
    screens = page.locator("section[aria-labelledby=dash-screens] table tbody tr")
    movies = screens.filter(has=page.get_by_role("link", name="movies", exact=True))
    expect(movies).to_contain_text("2,000")
    expect(screens).to_have_count(8)
    groups = [t.strip() for t in page.locator("nav.backoffice-sidebar summary").all_text_contents()]
    assert groups == ["Catalog", "Reviews", "Audit", "Schema"]
    assert_fits(page)
    screenshot(page, "dashboard")

    page.set_viewport_size(TABLET)
    page.reload()
    assert_fits(page)
    screenshot(page, "dashboard-tablet")

    movies.get_by_role("link", name="movies", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/movies/"))


def test_list_shows_utc_timestamps_with_a_relative_hint(page, live_server):
    page.goto("/admin/movies/")
    # the generic list keeps the short typed columns: the TMDB sync time is one of them
    first = page.locator("table.model-list tbody tr", has=page.locator("td.col-tmdb_synced_at time")).first
    created = first.locator("td.col-tmdb_synced_at time")
    expect(created).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(created).to_have_text(re.compile(r"UTC$"))
    expect(first.locator("td.col-tmdb_synced_at .backoffice-ago")).to_have_text(re.compile(r"(ago|just now)$"))
    assert_fits(page)

    page.set_viewport_size(TABLET)
    page.reload()
    assert_fits(page)


def test_detail_page(page, live_server):
    page.goto("/admin/movies/details/?id=1")
    expect(page.locator("table.searchable")).to_contain_text("The Silent Harbor")
    expect(page.locator("time.backoffice-time").first).to_have_text(re.compile(r"UTC$"))
    assert_fits(page)
    screenshot(page, "detail")


def test_invalid_edit_shows_the_error_at_the_field_and_keeps_what_was_typed(page, live_server):
    page.goto("/admin/movies/edit/?id=5")
    page.fill("#title", "The Crimson Harbor (director's cut)")
    page.fill("#overview", LONG_OVERVIEW)
    page.fill("#runtime_minutes", "101")
    # The browser itself refuses "abc" in a number field, so the server's own check is
    # shown with a value only the server can refuse: a day that does not exist.
    page.fill("#release_date", "1978-02-31")
    page.press("#title", "Enter")  # forms submit with Enter, like any form

    released = page.locator("#release_date")
    expect(released).to_have_class(re.compile(r"\bis-invalid\b"))
    group = page.locator(".form-group", has=released)
    expect(group.locator(".invalid-feedback")).to_contain_text("day is out of range for month")
    expect(group.locator(".invalid-feedback")).to_be_visible()
    expect(released).to_have_value("1978-02-31")
    expect(page.locator("#runtime_minutes")).to_have_value("101")
    expect(page.locator("#title")).to_have_value("The Crimson Harbor (director's cut)")
    expect(page.locator("#overview")).to_have_value(LONG_OVERVIEW)
    expect(page.locator(".alert-danger")).to_contain_text("Nothing was saved")
    assert_fits(page)
    released.evaluate("field => field.scrollIntoView({block: 'center'})")
    screenshot(page, "edit-error")

    # Typed key by key, as a person does: the date picker follows keystrokes.
    released.click()
    released.press("Control+a")
    released.press_sequentially("1978-02-28")
    released.press("Enter")
    flash = page.locator(".alert-success")
    expect(flash).to_contain_text("Saved 1 row of movies")
    expect(flash).to_contain_text("4 fields changed (overview, release_date, runtime_minutes, title)")

    # Long text: only on the details page in the generic list, complete there.
    page.goto("/admin/movies/?page=0")
    expect(page.locator("table.model-list td.col-overview")).to_have_count(0)
    page.goto("/admin/movies/details/?id=5")
    expect(page.locator("table").first).to_contain_text(LONG_OVERVIEW)
    expect(page.locator("table").first).to_contain_text("101")

    # ... and the audit trail holds the edit with old -> new values.
    page.get_by_role("link", name="History of this record").click()
    event = page.locator("table.backoffice-audit-events > tbody > tr").first
    expect(event).to_contain_text("update")
    runtime_change = event.locator("table.backoffice-diff tr", has=page.locator("code", has_text="runtime_minutes"))
    expect(runtime_change.locator(".backoffice-old")).to_have_text("187")
    expect(runtime_change.locator(".backoffice-new")).to_have_text("101")


def test_csv_export_downloads_and_parses(page, live_server):
    page.goto("/admin/movies/")
    export = page.get_by_role("link", name="Export", exact=True)
    several = page.get_by_role("link", name="Export CSV")  # a menu when more formats are offered
    with page.expect_download() as info:
        if several.count():
            export.click()
            several.click()
        else:
            export.click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    header = [name.lower() for name in rows[0]]  # labels are "Tmdb Id" or "Tmdb id" by taste
    assert header[:4] == ["id", "tmdb id", "imdb id", "title"]
    by_id = {row[0]: dict(zip(header, row)) for row in rows[1:]}
    assert len(by_id) == 2000
    assert by_id["1"]["title"] == "The Silent Harbor"
    assert by_id["1"]["imdb id"] == "tt1000003"
