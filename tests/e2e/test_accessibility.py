"""Accessibility (issue 19, item 7): axe-core finds no serious or critical violation on the
operator's main screens, in light and in dark mode, and a review can be applied with the
keyboard alone.

The console is the demo as its declarative file tunes it (what ``bash scripts/run``
serves). Dark mode is the system setting, emulated through Playwright's
``color_scheme``; the test checks the emulation took effect, so a page that ignores it is
still checked in both. The figures per page (affected elements by impact) are printed at
the end of the module and written to build/axe/figures.txt.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.e2e.axe import AXE_VERSION, BLOCKING, IMPACTS, axe_source, by_impact, describe, run_axe
from tests.e2e.support import ADMIN, OPERATOR, REPO

QUEUE = "/admin/review-queue/"
SCHEMES = ("light", "dark")


def _open_confirmation(page) -> None:
    page.goto(QUEUE)
    page.locator("tr.queue-item").first.get_by_role("button", name="Apply").click()
    expect(page.locator("h5")).to_contain_text("Apply: 1 row")


#: name -> how to reach it (a path, or a function of the page for a POSTed page).
PAGES = {
    "dashboard": "/admin/",
    "list": "/admin/movies/",
    "details": "/admin/movies/details/?id=1",
    "edit": "/admin/movies/edit/?id=1",
    "review-queue": QUEUE,
    "review-confirm": _open_confirmation,
    "catalog-health": "/admin/catalog-health/",
    "audit": "/admin/audit/",
}


@pytest.fixture(scope="module")
def console_env():
    return {"BACKOFFICE_CONFIG": str(REPO / "backoffice" / "demo" / "demo.toml")}


@pytest.fixture(scope="module")
def figures(request):
    """(page, scheme) -> counts by impact, reported once the module's tests have run."""
    collected: dict[tuple[str, str], dict[str, int]] = {}
    yield collected
    if not collected:
        return
    header = f"{'page':<16}{'scheme':<8}" + "".join(f"{impact:>10}" for impact in IMPACTS)
    lines = [f"axe-core {AXE_VERSION}: affected elements by impact", header]
    for (name, scheme), counts in sorted(collected.items(), key=lambda item: (list(PAGES).index(item[0][0]), SCHEMES.index(item[0][1]))):
        lines.append(f"{name:<16}{scheme:<8}" + "".join(f"{counts[impact]:>10}" for impact in IMPACTS))
    report = REPO / "build" / "axe" / "figures.txt"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Printed past pytest's output capture, so that a plain run shows the figures to quote.
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


def _open(new_context, scheme: str, account=ADMIN):
    context = new_context(color_scheme=scheme, extra_http_headers=account.headers)
    return context.new_page()


def _visit(page, target) -> None:
    if callable(target):
        target(page)
    else:
        response = page.goto(target)
        assert response.status == 200, f"{target} answered {response.status}"
    page.wait_for_load_state("load")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_or_critical_violation(new_context, live_server, figures, name, scheme):
    page = _open(new_context, scheme)
    _visit(page, PAGES[name])
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") is (scheme == "dark")
    violations = run_axe(page)
    figures[(name, scheme)] = counts = by_impact(violations)
    blocking = sum(counts[impact] for impact in BLOCKING)
    assert blocking == 0, f"{name} ({scheme}): {counts}\n{describe(violations)}"


def test_axe_reports_what_it_should(new_context, live_server):
    """The check itself can fail: an unlabelled field and an image without text are caught."""
    page = _open(new_context, "light")
    page.goto("/admin/")
    page.evaluate("""() => {
        const main = document.querySelector('main') || document.body;
        const input = document.createElement('input'); input.type = 'text';
        const img = document.createElement('img');
        main.append(input, img);
    }""")
    found = {v["id"]: v["impact"] for v in run_axe(page)}
    assert found.get("label") in BLOCKING and found.get("image-alt") in BLOCKING, found


def _review(live_server, review_id: str) -> tuple[str, list[tuple[str, str]]]:
    engine = create_engine(live_server.database_url)
    with engine.connect() as connection:
        state = connection.execute(text("SELECT status FROM tmdb_match_reviews WHERE id = :i"),
                                   {"i": int(review_id)}).scalar_one()
        audited = connection.execute(text(
            "SELECT action, actor FROM backoffice_audit_events WHERE entity_type = 'tmdb_match_reviews' "
            "AND entity_id = :i ORDER BY id"), {"i": review_id}).all()
    engine.dispose()
    return state, [tuple(row) for row in audited]


def test_a_review_is_applied_with_the_keyboard_alone(new_context, live_server):
    """From a freshly loaded queue, keys only: Tab into the page, j to the second proposal,
    k back to the first, a for its confirmation, Tab to the confirm button, Enter."""
    page = _open(new_context, "light", OPERATOR)
    page.goto(QUEUE)
    rows = page.locator("tr.queue-item")
    first_id = rows.first.get_attribute("data-queue-id")
    page.keyboard.press("Tab")  # the skip link or the first control: focus is in the page
    page.keyboard.press("Escape")  # leave any field, so the queue's keys are heard
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_be_focused()
    page.keyboard.press("k")
    expect(rows.first).to_be_focused()
    page.keyboard.press("a")
    expect(page.locator("h5")).to_contain_text("Apply: 1 row")
    assert _review(live_server, first_id)[0] == "pending"  # a key only opens the confirmation
    confirm = page.get_by_role("button", name=re.compile(r"^Apply 1 row"))
    for _ in range(60):  # Tab through the page until the confirm button holds the focus
        if confirm.evaluate("b => b === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".alert-success")).to_contain_text("1 of 1 row applied")
    state, audited = _review(live_server, first_id)
    assert state == "applied"
    assert ("review.apply", OPERATOR.username) in audited, audited


@pytest.mark.parametrize("required", ["1", ""])
def test_a_missing_axe_fails_where_the_browser_is_required(monkeypatch, tmp_path, required):
    """CI (BACKOFFICE_REQUIRE_BROWSER=1) fails when axe-core did not install; elsewhere the
    accessibility tests skip, naming the install command."""
    monkeypatch.setenv("BACKOFFICE_AXE", str(tmp_path / "absent" / "axe.min.js"))
    monkeypatch.setenv("BACKOFFICE_REQUIRE_BROWSER", required)
    expected = pytest.fail.Exception if required else pytest.skip.Exception
    with pytest.raises(expected, match="axe-core"):
        axe_source()
