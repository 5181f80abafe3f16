"""A refusal looks exactly like a missing page: every screen's every endpoint, GET and
POST, with and without a CSRF token, as a viewer, diffed against a missing page's 404
(status, body and headers; only the date and the request id may differ)."""
from __future__ import annotations

import re

import pytest

from tests.auth_helpers import ADMIN, ENV, basic, write_users

VIEWER = ("vera", "viewer pass phrase")
OPERATOR = ("otto", "operator pass phrase")
_RID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def db_url(sqlite_demo_url):
    return sqlite_demo_url


@pytest.fixture
def console(make_app, tmp_path):
    users = write_users(tmp_path / "users", {VIEWER[0]: ("viewer", VIEWER[1]),
                                             OPERATOR[0]: ("operator", OPERATOR[1])})
    return make_app(**ENV, OPERATOR_AUTH_USERS_FILE=str(users), OPERATOR_AUTH_RATE_LIMIT_MAX=100000)


def _shape(response) -> tuple:
    """What a client can observe, minus the date and the request id."""
    headers = tuple(sorted((k, v) for k, v in response.headers.items() if k not in ("Date", "X-Request-Id")))
    body = _RID.sub("<rid>", response.get_data(as_text=True))
    return response.status_code, body, headers


def _endpoints(app, check: str) -> list[tuple[str, str]]:
    """(url, method) for every Flask-Admin rule, with every method it takes and the one it does not;
    a URL argument gets a value that exists (``check``: a catalog-health check's name)."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin/") or rule.endpoint.endswith(".static"):
            continue
        url = rule.rule
        for argument in rule.arguments:
            url = re.sub(r"<(?:[^:<>]+:)?" + argument + r">", check if argument == "check" else "1", url)
        for method in ("GET", "POST"):
            found.append((url + "?id=1&url=/admin/", method))
    return found


def _request(client, url, method, who, token=None):
    headers = basic(*who)
    if method == "GET":
        return client.get(url, headers=headers)
    data = {"csrf_token": token, "reason": "probe", "action": "delete", "rowid": "1"} if token else {}
    return client.post(url, headers=headers, data=data)


def test_every_forbidden_url_and_method_answers_exactly_like_a_missing_page(console):
    viewer_client = console.test_client()
    # The viewer's own CSRF token, from a form every viewer may use (the health refresh).
    html = viewer_client.get("/admin/catalog-health/", headers=basic(*VIEWER)).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    check = re.search(r'/admin/catalog-health/check/([^/"]+)/', html).group(1)
    missing = {(method, with_token): _shape(_request(viewer_client, "/admin/no-such-screen/?id=1", method,
                                                      VIEWER, token if with_token else None))
               for method in ("GET", "POST") for with_token in (False, True)}
    assert missing[("GET", False)][0] == 404
    assert len({shape for shape in missing.values()}) == 1, "a missing page must look the same whatever is sent"
    reference = missing[("GET", False)]

    endpoints = _endpoints(console, check)
    assert len(endpoints) > 100  # every screen's endpoints, not a sample
    refused = allowed = 0
    problems = []
    for url, method in endpoints:
        allowed_with_token = None
        for with_token in ((True, False) if method == "POST" else (False,)):
            response = _request(viewer_client, url, method, VIEWER, token if with_token else None)
            status = response.status_code
            if with_token:
                allowed_with_token = status != 404
            # A CSRF 400 is right only where the viewer may post at all (the same POST with a
            # token is not refused); anywhere else it would tell that the URL exists.
            csrf_on_allowed = status == 400 and not with_token and allowed_with_token
            if (status in (400, 403, 405) and not csrf_on_allowed) or (
                    status == 404 and _shape(response) != reference):
                problems.append(f"{method} {url} token={with_token}: {status} "
                                f"{response.headers.get('Vary')} {response.get_data(as_text=True)[:120]!r}")
            elif status == 404:
                refused += 1
            else:
                allowed += 1
    assert not problems, "refusals that can be told from a missing page:\n" + "\n".join(problems)
    assert refused > 50 and allowed > 20  # both kinds really occurred


def test_a_forbidden_post_without_a_token_is_a_404_not_a_csrf_400(console):
    client = console.test_client()
    response = client.post("/admin/movies/bulk-delete/?id=1", headers=basic(*VIEWER))
    assert response.status_code == 404
    assert "Vary" not in response.headers or "Cookie" not in response.headers["Vary"]
    # The same POST from an admin without a token is refused for the token, not hidden.
    assert client.post("/admin/movies/bulk-delete/?id=1", headers=basic(*ADMIN)).status_code == 400


def test_a_method_an_endpoint_does_not_take_is_a_missing_page(console):
    client = console.test_client()
    missing = _shape(client.get("/admin/no-such-screen/", headers=basic(*ADMIN)))
    assert _shape(client.post("/admin/audit/", headers=basic(*ADMIN))) == missing
    assert "Allow" not in client.post("/admin/audit/", headers=basic(*ADMIN)).headers
