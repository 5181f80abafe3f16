"""A real browser on the catalog-health pages: a sample leads to the movie, Refresh recomputes."""
from __future__ import annotations

import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if not shutil.which(CHROMIUM):
        pytest.skip("chromium is not installed")
    return {"executable_path": CHROMIUM, "args": [
        "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture
def live_url(make_app):
    app = make_app(CATALOG_HEALTH_CACHE_SECONDS=3600)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_overview_sample_link_and_refresh(live_url, page, demo_counts):
    page.goto(f"{live_url}/admin/catalog-health/")
    row = page.locator("#check-no_director")
    assert row.locator(".health-count").inner_text().strip() == f"{demo_counts.no_director:,}"
    stamp = page.locator(".health-computed time").get_attribute("datetime")
    first = row.locator("td.small a").first
    movie_id = first.get_attribute("href").rsplit("=", 1)[1]
    first.click()
    page.wait_for_url(f"**/admin/movies/details/?id={movie_id}")
    page.go_back()
    page.get_by_role("button", name="Refresh").click()
    page.wait_for_load_state()
    assert page.url.endswith("/admin/catalog-health/")
    assert page.locator(".health-computed time").get_attribute("datetime") != stamp
    page.locator("#check-no_director a").first.click()
    page.wait_for_url("**/check/no_director/")
    assert page.locator("table.health-rows tbody tr").count() == 50
