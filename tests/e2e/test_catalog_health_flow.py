"""Catalog health in a real browser: overview -> a check -> a sample -> that movie."""
from __future__ import annotations

import importlib.util
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.support import TABLET, assert_fits, screenshot

pytestmark = pytest.mark.skipif(importlib.util.find_spec("views.catalog_health") is None,
                                reason="catalog health pages (views/catalog_health.py) are not in this tree")
HEALTH = "/admin/catalog-health/"


def test_from_the_overview_to_a_sample_movie(page, live_server):
    page.goto(HEALTH)
    checks = page.locator("table.health-table tbody tr")
    expect(checks.first).to_be_visible()
    assert_fits(page)
    screenshot(page, "catalog-health")

    # A check about movies that found something, and one of its sample rows.
    with_samples = checks.filter(has=page.locator("td.small a[href*='/admin/movies/details/']"))
    check = with_samples.first
    title = check.locator("td").first.get_by_role("link").inner_text()
    affected = int(re.sub(r"\D", "", check.locator(".health-count").inner_text()))
    assert affected > 0

    check.locator("td").first.get_by_role("link").click()
    expect(page.locator("h4", has_text=title)).to_be_visible()
    rows = page.locator("table.health-rows tbody tr, .health-group table tbody tr")
    expect(rows.first).to_be_visible()
    assert_fits(page)
    screenshot(page, "catalog-health-detail")

    sample = page.locator("a[href*='/admin/movies/details/']").first
    movie_id = re.search(r"id=(\d+)", sample.get_attribute("href")).group(1)
    sample.click()
    expect(page).to_have_url(re.compile(rf"/admin/movies/details/\?id={movie_id}\b"))
    expect(page.locator("table").first).to_contain_text(movie_id)


def test_catalog_health_fits_a_tablet(page, live_server):
    page.set_viewport_size(TABLET)
    page.goto(HEALTH)
    assert_fits(page)
    page.locator("table.health-table tbody tr td a").first.click()
    assert_fits(page)
