"""Readable generic defaults in a real browser (issue 19, item 2).

The module's console has no declarative file: what any other database gets. A list shows
at most eight columns chosen by rule, one line per row; no page is wider than the window
at 1366 px or 768 px, even with a long unbreakable token in the data and fonts far wider
than the ones the page was drawn with.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.e2e.support import LAPTOP, TABLET, assert_fits, screenshot

#: One 320-character token with no place to break (a hash, a URL, a request id).
TOKEN = "x" * 40 + "".join(f"{n:08x}" for n in range(35))

#: Fonts far wider than any a machine defaults to: a page that fits only with the
#: machine's own fonts fails here.
WIDE_FONTS = "* { font-family: monospace !important; font-size: 21px !important; letter-spacing: .12em !important; }"

PAGES = ["/admin/", "/admin/movies/", "/admin/movies/details/?id=7", "/admin/movies/edit/?id=7",
         "/admin/audit/", "/admin/review-queue/", "/admin/catalog-health/", "/admin/movie_credits/"]


@pytest.fixture(scope="module", autouse=True)
def long_token(live_server):
    """Movie 7 carries the token in its title and overview, and an audited save puts it
    in the audit history too."""
    engine = create_engine(live_server.database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE movies SET overview = :t, original_title = :t WHERE id = 7"), {"t": TOKEN})
    engine.dispose()


def _one_line(page) -> list[str]:
    """Cells of the list whose content takes more than one line."""
    return page.evaluate("""() => {
        const out = [];
        for (const td of document.querySelectorAll('table.model-list tbody td')) {
            if (td.classList.contains('list-buttons-column') || !td.textContent.trim()) continue;
            const range = document.createRange();
            range.selectNodeContents(td);
            // a new line starts below the bottom of the line before (smaller text on the
            // same line, a badge or a hint, only sits a little lower)
            const rects = [...range.getClientRects()].filter(r => r.width > 0).sort((a, b) => a.top - b.top);
            let lines = 0, bottom = -Infinity;
            for (const r of rects) { if (r.top >= bottom - 1) { lines += 1; } bottom = Math.max(bottom, r.bottom); }
            if (lines > 1) out.push(td.className + ': ' + td.textContent.trim().slice(0, 40));
        }
        return out;
    }""")


def test_a_list_shows_a_few_short_columns_label_first_one_line_per_row(page, live_server):
    page.goto("/admin/movies/?page_size=100")
    headers = [h.strip() for h in page.locator("table.model-list thead th").all_inner_texts() if h.strip()]
    assert headers[0] == "Title", headers
    assert len(headers) <= 8, headers
    for long_or_noisy in ("Overview", "Original title", "Poster path"):
        assert long_or_noisy not in headers
    assert {"Release date", "Runtime minutes"} <= set(headers)
    assert page.locator("table.model-list tbody tr").count() == 100
    assert _one_line(page) == []
    screenshot(page, "generic-list")

    page.set_viewport_size(TABLET)
    page.reload()
    assert _one_line(page) == []
    assert_fits(page)


def test_the_details_page_has_every_column_in_full(page, live_server):
    page.goto("/admin/movies/details/?id=7")
    table = page.locator("table.searchable")
    expect(table).to_contain_text("Overview")
    expect(table).to_contain_text(TOKEN)  # the full value, not cut
    assert_fits(page)


def test_foreign_keys_are_links_in_the_generic_list(page, live_server):
    page.goto("/admin/movie_credits/")
    first = page.locator("table.model-list tbody tr").first
    expect(first.locator("td.col-movie_id a")).to_have_attribute("href", "/admin/movies/details/?id=" +
                                                                 first.locator("td.col-movie_id a").inner_text())


@pytest.mark.parametrize("viewport", [LAPTOP, TABLET], ids=["1366", "768"])
@pytest.mark.parametrize("fonts", ["machine", "wide"])
def test_no_page_is_wider_than_the_window(page, viewport, fonts):
    page.set_viewport_size(viewport)
    for path in PAGES:
        page.goto(path)
        if fonts == "wide":
            page.add_style_tag(content=WIDE_FONTS)
        assert_fits(page)
