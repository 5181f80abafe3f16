"""The Content-Security-Policy is enforced on every kind of page: the console's own
pages raise no violation, and a script injected into any of them does not run."""
from __future__ import annotations

import re

import pytest

#: Every kind of page the console serves: dashboard, list, details, edit, create, export
#: choices, catalog health (overview and detail), review queue, audit history, schema
#: report, the bulk-delete confirmation and an error page.
PAGES = [
    "/admin/", "/admin/movies/", "/admin/movies/details/?id=1", "/admin/movies/edit/?id=1",
    "/admin/genres/new/", "/admin/catalog-health/", "/admin/tmdb-matches/", "/admin/audit/",
    "/admin/schema-report/", "/admin/movies/bulk-delete/?id=1&id=2", "/admin/no-such-page/",
]
_LISTEN = """document.addEventListener('securitypolicyviolation', e =>
    (window.__violations = window.__violations || []).push(e.violatedDirective + ' ' + e.blockedURI));"""


@pytest.fixture
def watched(page):
    page.add_init_script(_LISTEN)
    return page


def _pages(page, live_server):
    found = list(PAGES)
    page.goto("/admin/catalog-health/")
    detail = page.locator("a[href*='/admin/catalog-health/check/']").first.get_attribute("href")
    found.append(detail)
    return found


def test_no_page_of_the_console_violates_its_policy(watched, live_server):
    problems = {}
    for path in _pages(watched, live_server):
        response = watched.goto(path)
        assert response.status in (200, 404), (path, response.status)
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and re.search(r"script-src 'self'(;|$)", policy)
        watched.wait_for_load_state("load")
        violations = watched.evaluate("() => window.__violations || []")
        inline = watched.evaluate("""() => [...document.querySelectorAll('*')].flatMap(el =>
            [...el.attributes].filter(a => a.name.startsWith('on')).map(a => el.tagName + ' ' + a.name))
            .concat([...document.scripts].filter(s => !s.src).map(() => 'inline <script>'))""")
        if violations or inline:
            problems[path] = violations + inline
    assert not problems, problems


def test_an_injected_inline_script_or_handler_does_not_run_on_any_page(watched, live_server):
    for path in _pages(watched, live_server):
        watched.goto(path)
        ran = watched.evaluate("""() => new Promise(resolve => {
            window.__pwned = 0;
            const script = document.createElement('script');
            script.textContent = 'window.__pwned += 1';
            document.body.appendChild(script);
            const box = document.createElement('div');
            box.setAttribute('onclick', 'window.__pwned += 10');
            document.body.appendChild(box);
            box.click();
            const link = document.createElement('a');
            link.href = 'javascript:window.__pwned += 100';
            document.body.appendChild(link);
            link.click();
            setTimeout(() => resolve([window.__pwned, (window.__violations || []).length]), 200);
        })""")
        assert ran[0] == 0, (path, ran)
        assert ran[1] >= 2, (path, ran)  # the browser refused them and said so


def test_bulk_actions_and_delete_confirmations_still_work_without_inline_handlers(watched, live_server):
    watched.goto("/admin/genres/")
    watched.locator("input.action-checkbox").first.check()
    messages = []
    watched.on("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
    watched.locator("a[data-toggle='dropdown']", has_text="With selected").click()
    watched.locator("[data-backoffice-action='delete']").click()
    watched.wait_for_url(re.compile(r"/admin/genres/bulk-delete/"))
    watched.goto("/admin/genres/")
    watched.locator("[data-backoffice-confirm]").first.click()  # dismissed: nothing is deleted
    assert messages and "delete" in messages[-1].lower()
    assert watched.url.endswith("/admin/genres/")
    assert watched.evaluate("() => window.__violations || []") == []
