"""The TMDB match-review queue in a real browser: apply one, reject several, viewer."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.support import TABLET, VIEWER, assert_fits, screenshot

QUEUE = "/admin/review-queue/"


def _row(page, review_id: str):
    return page.locator("tr.queue-item", has=page.locator(f'input[name="ids"][value="{review_id}"]'))


def test_apply_one_review_with_its_confirmation(page, live_server):
    page.goto(QUEUE)
    assert_fits(page)
    screenshot(page, "review-queue")
    first = page.locator("tr.queue-item").first
    review_id = first.locator('input[name="ids"]').get_attribute("value")
    candidate = first.locator(".queue-compare tr", has_text="TMDB id").locator("td").nth(1).inner_text().strip()
    movie_link = first.locator("td").nth(1).get_by_role("link").first
    movie_url = movie_link.get_attribute("href")

    first.get_by_role("button", name="Apply").click()
    expect(page.locator("h5")).to_contain_text("Apply: 1 row")
    preview = page.locator("table.confirm-table tbody tr")
    expect(preview).to_have_count(1)
    expect(preview).to_contain_text(candidate)  # the movie's tmdb_id: old -> this candidate
    expect(page.get_by_text("Nothing has changed yet.")).to_be_visible()
    preview_text = preview.inner_text()
    assert_fits(page)
    screenshot(page, "review-confirm")

    page.get_by_role("button", name="Apply 1 row").click()
    flash = page.locator(".alert-success")
    expect(flash).to_contain_text("1 of 1 row applied")
    expect(page).to_have_url(re.compile(re.escape(QUEUE)))
    expect(_row(page, review_id)).to_have_count(0)  # it left the pending list

    old_tmdb_id = re.search(r"tmdb_id:\s*(\d+)\s*→\s*" + candidate, preview_text).group(1)
    page.goto(movie_url)
    expect(page.locator("table.searchable")).to_contain_text(candidate)

    # The audit entry: who, which action, and the movie's tmdb_id old -> new.
    page.get_by_role("link", name="History of this record").click()
    event = page.locator("table.backoffice-audit-events > tbody > tr", has_text="review.apply").first
    expect(event).to_contain_text("ann (admin)")
    change = event.locator("table.backoffice-diff tr", has=page.locator("code", has_text=re.compile(r"^tmdb_id$")))
    expect(change.locator(".backoffice-old")).to_have_text(old_tmdb_id)
    expect(change.locator(".backoffice-new")).to_have_text(candidate)
    assert_fits(page)
    screenshot(page, "audit-history")

    page.goto(f"{QUEUE}?state=applied&sort=-age")
    applied = _row(page, review_id)
    expect(applied.locator("td").nth(2).locator(".badge")).to_have_text("applied")


def test_bulk_reject_with_a_reason(page, live_server):
    page.goto(f"{QUEUE}?sort=-score")  # the weakest matches
    rows = page.locator("tr.queue-item")
    ids = [rows.nth(i).locator('input[name="ids"]').get_attribute("value") for i in range(3)]
    for review_id in ids:
        _row(page, review_id).locator('input[name="ids"]').check()
    page.locator(".queue-bulk").get_by_role("button", name="Reject").click()

    expect(page.locator("h5")).to_contain_text("Reject: 3 rows")
    expect(page.locator("table.confirm-table tbody tr")).to_have_count(3)
    submit = page.get_by_role("button", name="Reject 3 rows")
    submit.click()  # no reason yet: the browser keeps the form (the field is required)
    expect(page.locator("h5")).to_contain_text("Reject: 3 rows")
    page.get_by_label("Reason (required)").fill("Scores below 0.3: wrong films")
    submit.click()

    expect(page.locator(".alert-success")).to_contain_text("3 of 3 rows rejected")
    for review_id in ids:
        expect(_row(page, review_id)).to_have_count(0)
        page.goto(f"/admin/tmdb_match_reviews/details/?id={review_id}")
        details = page.locator("table.searchable")
        expect(details).to_contain_text("Scores below 0.3: wrong films")
        expect(details.locator(".backoffice-status")).to_have_text("rejected")


def test_the_queue_fits_a_tablet(page, live_server):
    page.set_viewport_size(TABLET)
    page.goto(QUEUE)
    assert_fits(page)
    screenshot(page, "review-queue-tablet")


def test_a_viewer_sees_no_action_controls(page, new_context, live_server):
    # The same screens as the admin sees them, so the absences below mean something.
    page.goto("/admin/movies/")
    expect(page.get_by_role("link", name="Create", exact=True)).to_be_visible()
    expect(page.locator("input.action-checkbox").first).to_be_visible()
    page.goto(QUEUE)
    expect(page.locator('input[name="ids"]').first).to_be_visible()

    page = new_context(extra_http_headers=VIEWER.headers).new_page()
    page.goto(QUEUE)
    expect(page.locator("nav.navbar")).to_contain_text("vera · viewer")
    expect(page.locator("tr.queue-item").first).to_be_visible()
    expect(page.locator('input[name="ids"]')).to_have_count(0)
    expect(page.locator("table.queue-table button, .queue-bulk")).to_have_count(0)

    page.goto("/admin/movies/")
    expect(page.locator("table.model-list tbody tr").first).to_be_visible()
    expect(page.get_by_role("link", name="Create", exact=True)).to_have_count(0)
    expect(page.locator(".list-buttons-column a[href*='/edit/'], .list-buttons-column form")).to_have_count(0)
    expect(page.locator("input.action-checkbox")).to_have_count(0)
    expect(page.get_by_role("link", name="Export", exact=True)).to_be_visible()  # viewers may export

    page.goto("/admin/movies/details/?id=1")
    expect(page.locator("table.searchable")).to_contain_text("The Silent Harbor")
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)

    response = page.goto("/admin/movies/edit/?id=1")
    assert response.status == 404
