"""A movie's details page in Chromium: the rows that reference it (credits, genres, keywords,
match reviews), each linking to its filtered list, and the movie's history with the diff of
an edit made through the console; the page fits a 1366 px window."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.support import assert_fits, screenshot

WIDE_FONTS = "* { font-family: monospace !important; font-size: 21px !important; letter-spacing: .12em !important; }"


def _movie_with_credits_and_genres(page) -> tuple[int, int]:
    for movie in range(1, 40):
        page.goto(f"/admin/movies/details/?id={movie}")
        credits = page.locator('section.backoffice-reference[data-table="movie_credits"] .backoffice-reference-count')
        genres = page.locator('section.backoffice-reference[data-table="movie_genres"] .backoffice-reference-count')
        if credits.inner_text() not in ("0", "not counted") and genres.inner_text() != "0":
            return movie, int(credits.inner_text().replace(",", ""))
    raise AssertionError("no demo movie with credits and genres among the first 40")


def test_a_movie_page_shows_what_references_it_and_its_history(page, live_server):
    movie, credits = _movie_with_credits_and_genres(page)
    page.goto(f"/admin/movies/edit/?id={movie}")
    old_title = page.locator("#title").input_value()
    page.fill("#title", old_title + " (restored print)")
    page.press("#title", "Enter")
    expect(page.locator(".alert-success")).to_contain_text("Saved 1 row of movies")

    page.goto(f"/admin/movies/details/?id={movie}")
    references = page.get_by_role("region", name="Rows that reference this record")
    expect(references.get_by_role("heading", level=2)).to_have_text("Rows that reference this record")
    for table in ("movie_credits", "movie_genres", "movie_keywords", "tmdb_match_reviews"):
        expect(references.get_by_role("heading", level=3, name=re.compile(rf"^{table} by movie_id"))).to_be_visible()
    history = page.get_by_role("region", name="History of this record")
    newest = history.locator("tr.backoffice-record-event").first
    expect(newest.locator('[data-column="title"]')).to_contain_text(f"{old_title} → {old_title} (restored print)")
    expect(newest.get_by_role("link", name=re.compile("Revert"))).to_be_visible()
    expect(history.get_by_role("columnheader", name="when (UTC)")).to_be_visible()
    assert_fits(page)
    screenshot(page, "record-page", full_page=True)
    page.add_style_tag(content=WIDE_FONTS)
    assert_fits(page)

    # the credits link opens the credits list narrowed to this movie's rows, filter shown
    page.reload()
    page.locator('section.backoffice-reference[data-table="movie_credits"] a.backoffice-reference-list').click()
    expect(page).to_have_url(re.compile(r"/admin/movie_credits/\?flt0_\d+=" + str(movie) + "$"))
    rows = page.locator("table.model-list tbody tr")
    expect(rows).to_have_count(credits)
    assert_fits(page)

    # the full history, filtered to this movie
    page.goto(f"/admin/movies/details/?id={movie}")
    history.locator("a.backoffice-record-history-all").click()
    expect(page).to_have_url(re.compile(rf"/admin/audit/\?table=movies&entity={movie}$"))
    expect(page.locator("table.backoffice-audit-events tbody tr").first).to_contain_text("restored print")
