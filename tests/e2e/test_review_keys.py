"""The review workflow in a real browser (issue 19, item 4): each proposal compared side by
side with its differences named, the score as a badge, and decisions taken with the
keyboard alone through the same server-side confirmation, CSRF and audit as the buttons."""
from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.e2e.support import assert_fits, screenshot

QUEUE = "/admin/review-queue/"


def _db(live_server):
    return create_engine(live_server.database_url)


def _state(live_server, review_id) -> str:
    engine = _db(live_server)
    with engine.connect() as connection:
        state = connection.execute(text("SELECT status FROM tmdb_match_reviews WHERE id = :i"),
                                   {"i": int(review_id)}).scalar_one()
    engine.dispose()
    return state


def _audited(live_server, review_id) -> list[tuple[str, str]]:
    engine = _db(live_server)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT action, actor FROM backoffice_audit_events WHERE entity_type = 'tmdb_match_reviews' "
            "AND entity_id = :i ORDER BY id"), {"i": str(review_id)}).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_a_release_date_45_years_off_is_named_and_highlighted(page, live_server):
    engine = _db(live_server)
    with engine.begin() as connection:
        review_id, movie_id = connection.execute(text(
            "SELECT id, movie_id FROM tmdb_match_reviews WHERE status = 'pending' ORDER BY match_score DESC, id"
        )).first()
        connection.execute(text("UPDATE movies SET release_date = :d WHERE id = :m"),
                           {"d": dt.date(1933, 3, 2), "m": movie_id})
        connection.execute(text("UPDATE tmdb_match_reviews SET candidate_release_date = :d WHERE id = :i"),
                           {"d": dt.date(1978, 3, 2), "i": review_id})
    engine.dispose()
    page.goto(QUEUE)
    row = page.locator(f'tr.queue-item[data-queue-id="{review_id}"]')
    released = row.locator(".queue-compare tr", has_text="Release date")
    expect(released).to_have_class(re.compile(r"\bqueue-differs\b"))
    expect(released.locator(".queue-difference")).to_have_text("45 years apart")
    expect(row.locator(".queue-compare tr", has_text="Title")).to_have_count(1)
    expect(row.locator(".queue-score")).to_have_class(re.compile(r"badge-(success|warning|danger)"))
    assert "candidate_title:" not in row.inner_text()  # no raw column names for compared fields
    assert_fits(page)
    screenshot(page, "review-compare")


def test_keyboard_only_apply_goes_through_the_confirmation_and_is_audited(page, live_server):
    page.goto(QUEUE)
    first = page.locator("tr.queue-item").first
    review_id = first.get_attribute("data-queue-id")
    page.keyboard.press("j")
    expect(first).to_be_focused()
    page.keyboard.press("a")
    expect(page.locator("h5")).to_contain_text("Apply: 1 row")
    assert _state(live_server, review_id) == "pending"  # a key opens the confirmation, never decides
    screenshot(page, "review-confirm-keys")
    page.wait_for_load_state()
    page.keyboard.press("Enter")
    expect(page.locator(".alert-success")).to_contain_text("1 of 1 row applied")
    assert _state(live_server, review_id) == "applied"
    assert any(action == "review.apply" for action, _actor in _audited(live_server, review_id))


def test_escape_cancels_and_k_moves_back(page, live_server):
    page.goto(QUEUE)
    rows = page.locator("tr.queue-item")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(rows.first).to_be_focused()
    review_id = rows.first.get_attribute("data-queue-id")
    page.keyboard.press("r")
    expect(page.locator("h5")).to_contain_text("Reject: 1 row")
    page.wait_for_load_state()
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(re.escape(QUEUE) + r"$"))
    assert _state(live_server, review_id) == "pending"
    assert _audited(live_server, review_id) == []


def test_apply_every_proposal_scoring_at_least_needs_the_typed_count(page, live_server):
    page.goto(QUEUE)
    scores = [float(s.get_attribute("data-score")) for s in page.locator(".queue-score").all()]
    least = sorted(scores, reverse=True)[2]
    expected = sum(1 for s in scores if s >= least)
    page.fill("#at_least", repr(least))
    page.press("#at_least", "Enter")
    expect(page.locator("h5")).to_contain_text(f"Apply: {expected} row")
    page.wait_for_load_state()
    page.keyboard.press("Enter")  # the typed count is required: nothing happens without it
    expect(page.locator("h5")).to_contain_text(f"Apply: {expected} row")
    page.fill("#typed_count", str(expected + 1))
    page.press("#typed_count", "Enter")  # a wrong count is refused by the server
    expect(page.locator(".alert-danger")).to_contain_text(f"Type the number of rows ({expected})")
    page.fill("#typed_count", str(expected))
    page.press("#typed_count", "Enter")
    expect(page.locator(".alert-success")).to_contain_text(f"{expected} of {expected} rows applied")
