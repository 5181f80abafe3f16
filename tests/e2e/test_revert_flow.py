"""Delete a movie with credits, then restore it (and its credits) from "Recently deleted"."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def test_delete_a_movie_with_credits_then_restore_it_from_recently_deleted(page, live_server):
    page.on("dialog", lambda dialog: dialog.accept())  # a confirm() before the delete, if any
    movie_id = None
    for movie in range(1, 40):
        page.goto(f"/admin/movies/details/?id={movie}")
        text = page.locator("body").inner_text()
        found = re.search(r"movie_credits: (\d+) row\(s\) deleted", text)
        if found:
            movie_id, credits = movie, int(found.group(1))
            break
    assert movie_id is not None, "no demo movie with credits among the first 40"
    title = page.locator("table").first.inner_text()
    page.fill("#audit_reason", "duplicate entry")
    page.get_by_role("button", name="Delete this record").click()
    page.goto(f"/admin/movies/details/?id={movie_id}")
    expect(page.locator("body")).not_to_contain_text("Delete this record")

    page.goto("/admin/movies/")
    page.get_by_role("link", name="Recently deleted").first.click()
    row = page.locator(f'table.recently-deleted tr[data-entity="{movie_id}"]')
    expect(row).to_contain_text("duplicate entry")
    row.get_by_role("link", name=re.compile("Restore")).click()
    expect(page.locator(".revert-clean")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Restore movie_credits #"))).to_have_count(credits)
    page.fill("#reason", "deleted the wrong movie")
    page.get_by_role("button", name="Revert").click()
    expect(page.locator(".alert-success")).to_contain_text("was reverted by #")

    page.goto(f"/admin/movies/details/?id={movie_id}")
    expect(page.locator("body")).to_contain_text(f"movie_credits: {credits} row(s) deleted")
    assert page.locator("table").first.inner_text() == title
    page.goto("/admin/movies/")
    page.get_by_role("link", name="Recently deleted").first.click()
    expect(page.locator(f'table.recently-deleted tr[data-entity="{movie_id}"]')).to_contain_text("restored by #")
