"""The guard every browser test relies on actually catches what it is for."""
from __future__ import annotations


def test_the_guard_catches_other_hosts_missing_assets_and_script_errors(page, live_server, offsite_requests):
    page.goto("/admin/")
    # The console's Content-Security-Policy already stops a page's own off-host requests
    # (tests/e2e/test_csp.py); a navigation is not covered by it, so it shows the guard at work.
    other = page.context.new_page()
    try:
        other.goto("https://fonts.example.com/css?family=Roboto")
    except Exception:  # aborted by the guard, as it should be
        pass
    other.close()
    page.evaluate("""() => {
        const img = document.createElement('img'); img.src = '/static/no-such-image.png';
        document.body.appendChild(img);
        setTimeout(() => { throw new Error('boom'); }, 0);
    }""")
    page.wait_for_timeout(500)
    found = list(offsite_requests)
    offsite_requests.clear()  # caught on purpose: the test's own teardown must pass
    assert any("request to another host: GET https://fonts.example.com/" in p for p in found), found
    assert any("asset not served: 404" in p and "no-such-image.png" in p for p in found), found
    assert any("JavaScript error" in p and "boom" in p for p in found), found
