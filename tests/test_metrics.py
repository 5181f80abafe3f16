"""/metrics: only for the bearer token, never through operator credentials; the figures
it reports match what the console did (requests, sign-in failures and lockouts, audit
rows, review decisions, queue sizes, stored catalog-health figures, database timeouts)."""
from __future__ import annotations

import re

import pytest

from tests.auth_helpers import ADMIN, ENV, basic
from tests.conftest import outside_sql
from tests.reflection_walk import form_fields

TOKEN = "scrape-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def scrape(client) -> dict[str, float]:
    """Every sample of one scrape, keyed by its name and labels as printed."""
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for line in response.get_data(as_text=True).splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def total(samples: dict[str, float], name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``."""
    found = 0.0
    for key, value in samples.items():
        metric, _, rest = key.partition("{")
        if metric != name:
            continue
        present = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if all(present.get(k) == v for k, v in labels.items()):
            found += value
    return found


# -- who may read it ---------------------------------------------------------------------

@pytest.mark.parametrize("env", [{}, ENV], ids=["auth off", "auth on"])
def test_without_a_token_metrics_answers_like_any_missing_page(make_app, env):
    client = make_app(**env).test_client()
    missing = client.get("/no-such-page")
    for headers in ({}, BEARER, basic(*ADMIN)):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == client.get("/no-such-page", headers=headers).status_code
        assert response.status_code in (401, 404) and b"backoffice_" not in response.data
    assert missing.status_code == (404 if not env else 401)


def test_with_a_token_only_its_bearer_reads_metrics_and_operator_credentials_never_do(make_app):
    client = make_app(BACKOFFICE_METRICS_TOKEN=TOKEN, **ENV).test_client()
    refusals = [client.get("/metrics"), client.get("/metrics", headers=basic(*ADMIN)),
                client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"}),
                client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN + "x"}),
                client.get("/metrics", headers={"Authorization": "Basic " + TOKEN})]
    for response in refusals:
        assert response.status_code == 404
        assert b"backoffice_http" not in response.data
        assert response.headers["X-Request-Id"] and response.headers["X-Frame-Options"] == "DENY"
    # The bearer needs no operator account, and the guard does not ask it for one.
    answer = client.get("/metrics", headers=BEARER)
    assert answer.status_code == 200 and b"backoffice_http_requests_total" in answer.data
    assert "WWW-Authenticate" not in answer.headers
    assert answer.headers["X-Request-Id"] and answer.headers["Cache-Control"] == "no-store"


def test_a_short_token_stops_start_up_without_showing_it(make_app):
    from backoffice.core.settings import SettingsError

    with pytest.raises(SettingsError) as error:
        make_app(BACKOFFICE_METRICS_TOKEN="letmein")
    assert "BACKOFFICE_METRICS_TOKEN=<hidden>" in str(error.value) and "letmein" not in str(error.value)


# -- what it counts ----------------------------------------------------------------------

def test_requests_are_counted_per_screen_kind_and_status(make_app):
    client = make_app(BACKOFFICE_METRICS_TOKEN=TOKEN, **ENV).test_client()
    for _ in range(3):
        assert client.get("/admin/movies/", headers=basic(*ADMIN)).status_code == 200
    assert client.get("/admin/movies/details/?id=1", headers=basic(*ADMIN)).status_code == 200
    assert client.get("/admin/no-such-screen/", headers=basic(*ADMIN)).status_code == 404
    samples = scrape(client)
    assert total(samples, "backoffice_http_requests_total", kind="list", status="200") == 3
    assert total(samples, "backoffice_http_requests_total", kind="details", status="200") == 1
    assert total(samples, "backoffice_http_requests_total", kind="unmatched", status="404") == 1
    assert total(samples, "backoffice_http_request_duration_seconds_count", kind="list", status="200") == 3
    assert total(samples, "backoffice_http_request_duration_seconds_sum", kind="list") > 0
    assert not any("movies" in key for key in samples), "a table name must never become a label"


def test_failed_sign_ins_and_lockouts_are_counted_as_the_limit_counts_them(make_app):
    client = make_app(BACKOFFICE_METRICS_TOKEN=TOKEN, OPERATOR_AUTH_RATE_LIMIT_MAX=3, **ENV).test_client()
    assert client.get("/admin/").status_code == 401  # a browser's first request: no credentials, not a failure
    for _ in range(3):
        assert client.get("/admin/", headers=basic(ADMIN[0], "wrong")).status_code == 401
    assert client.get("/admin/", headers=basic(*ADMIN)).status_code == 429
    assert client.get("/admin/", headers=basic(ADMIN[0], "wrong")).status_code == 429
    samples = scrape(client)
    assert total(samples, "backoffice_sign_in_failures_total") == 3
    assert total(samples, "backoffice_sign_in_lockouts_total") == 2


def _reject_one_review(app, client) -> None:
    review = outside_sql(app, "SELECT id FROM tmdb_match_reviews WHERE status = 'pending' ORDER BY id LIMIT 1")[0]
    page = client.get("/admin/review-queue/?state=all").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    confirm = client.post("/admin/review-queue/confirm/",
                          data={"csrf_token": csrf, "row_action": f"reject:{review['id']}"})
    token = re.search(r'name="token" value="([^"]+)"', confirm.get_data(as_text=True)).group(1)
    done = client.post("/admin/review-queue/execute/", data={"csrf_token": csrf, "token": token, "reason": "wrong film"})
    assert done.status_code == 302


def test_audit_rows_and_review_decisions_match_what_was_committed(make_app):
    app = make_app(BACKOFFICE_METRICS_TOKEN=TOKEN)
    client = app.test_client()
    before = outside_sql(app, "SELECT count(*) AS n FROM backoffice_audit_events")[0]["n"]
    form = dict(form_fields(client.get("/admin/genres/new/").get_data(as_text=True)))
    assert client.post("/admin/genres/new/", data={**form, "name": "Counted genre"}).status_code == 302
    # A refused save writes nothing and must count nothing.
    assert client.post("/admin/genres/new/", data={**form, "name": "Counted genre"}).status_code == 422
    _reject_one_review(app, client)
    after = outside_sql(app, "SELECT count(*) AS n FROM backoffice_audit_events")[0]["n"]
    samples = scrape(client)
    assert after - before >= 2
    assert total(samples, "backoffice_audit_events_total") == after - before
    assert total(samples, "backoffice_review_decisions_total", action="reject") == 1
    assert total(samples, "backoffice_review_decisions_total", action="apply") == 0


def test_queue_sizes_are_read_at_scrape_time(make_app):
    app = make_app(BACKOFFICE_METRICS_TOKEN=TOKEN)
    client = app.test_client()
    _reject_one_review(app, client)
    counts = {r["status"]: r["n"] for r in
              outside_sql(app, "SELECT status, count(*) AS n FROM tmdb_match_reviews GROUP BY status")}
    samples = scrape(client)
    for state, count in counts.items():
        assert total(samples, "backoffice_queue_rows", queue="tmdb_matches", state=state) == count, state
    assert total(samples, "backoffice_scrape_failures", part="queues") == 0


def test_catalog_health_gauges_come_from_the_stored_report_never_from_the_scrape(make_app):
    from backoffice.catalog import catalog_health

    app = make_app(BACKOFFICE_METRICS_TOKEN=TOKEN)
    client = app.test_client()
    service = catalog_health(app)
    samples = scrape(client)
    assert total(samples, "backoffice_catalog_health_affected_rows") == 0
    assert service.latest() is None, "a scrape must not compute catalog health"
    assert client.get("/admin/catalog-health/").status_code == 200
    report = service.latest()
    samples = scrape(client)
    for result in report.results:
        if result.count is not None:
            assert total(samples, "backoffice_catalog_health_affected_rows", check=result.check.name) == result.count
            assert total(samples, "backoffice_catalog_health_check_ok", check=result.check.name) == 1
    assert total(samples, "backoffice_catalog_health_computed_timestamp_seconds") == \
        pytest.approx(report.computed_at.timestamp())


@pytest.mark.postgres
def test_a_statement_timeout_is_counted_as_a_database_timeout(pg_demo_url, monkeypatch, tmp_path):
    import psycopg2

    from console.app import create_app

    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": pg_demo_url, "SECRET_KEY": "k" * 20, "LOG_LEVEL": "WARNING",
                      "BACKOFFICE_METRICS_TOKEN": TOKEN, "STATEMENT_TIMEOUT_MS": "300"})
    client = app.test_client()
    blocker = psycopg2.connect(pg_demo_url)
    try:
        with blocker.cursor() as cursor:
            cursor.execute("LOCK TABLE genres IN ACCESS EXCLUSIVE MODE")  # held until rollback
        assert client.get("/admin/genres/").status_code == 503
    finally:
        blocker.rollback()
        blocker.close()
    samples = scrape(client)
    assert total(samples, "backoffice_database_errors_total", database="primary", kind="timeout") >= 1
    assert total(samples, "backoffice_database_errors_total", kind="other") == 0
