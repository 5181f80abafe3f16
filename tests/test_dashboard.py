"""The dashboard: health cards with their trend, queue sizes per state, the newest audit
events, the system's status; cheap on a large catalog; each section only for a role that
may open the page it summarises."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event, text

from click.testing import CliRunner

from audit_hooks import audit_action
from console.cli import main
from backoffice.catalog import snapshot as snapshot_module

from tests.auth_helpers import ENV, basic, write_users
from tests.conftest import outside_sql


def _health(app):
    return app.extensions["backoffice.catalog_health"]


def _store_report(app):
    with app.app_context():
        report, computed, _ = _health(app).store_fresh()
    assert computed and report is not None


def _card(html: str, check: str) -> str:
    match = re.search(rf'<div class="card backoffice-health-card" data-check="{check}">(.*?)</div>\s*</div>', html, re.S)
    assert match, f"no card for {check}"
    return match.group(1)


def _edit_genre(app, genre_id, name):
    Genre = app.extensions["backoffice.reflection"].tables["genres"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with audit_action("catalog.rename"):
            db.session.get(Genre, genre_id).name = name
        db.session.commit()


def test_health_cards_show_figures_and_a_trend_after_two_reports(app, client):
    html = client.get("/admin/").get_data(as_text=True)
    assert "No report is stored yet" in html and "backoffice-sparkline" not in html  # never computed on page load
    assert _health(app).computations == 0

    _store_report(app)
    missing = outside_sql(app, "SELECT count(*) AS n FROM movies WHERE overview IS NULL OR trim(overview) = ''")[0]["n"]
    html = client.get("/admin/").get_data(as_text=True)
    card = _card(html, "missing_overview")
    assert f"{missing:,}" in card and "backoffice-sparkline" not in card  # one report: no trend yet

    outside_sql(app, "UPDATE movies SET overview = NULL WHERE id IN "
                     "(SELECT id FROM movies WHERE overview IS NOT NULL AND trim(overview) <> '' ORDER BY id LIMIT 3)")
    _store_report(app)
    card = _card(client.get("/admin/").get_data(as_text=True), "missing_overview")
    assert f"{missing + 3:,}" in card and "+3 since the previous report" in card
    svg = re.search(r"<svg class=\"backoffice-sparkline\".*?</svg>", card, re.S).group(0)
    assert "<polyline" in svg and f"{missing:,} → {missing + 3:,}" in svg


def test_the_trend_keeps_only_the_last_reports(app, monkeypatch):
    monkeypatch.setattr(snapshot_module, "HEALTH_HISTORY_KEEP", 3)
    for _ in range(5):
        _store_report(app)
    assert outside_sql(app, "SELECT count(*) AS n FROM backoffice_health_history")[0]["n"] == 3


def test_queue_sizes_per_state_match_the_table(client, app):
    expected = {r["status"]: r["n"] for r in outside_sql(
        app, "SELECT status, count(*) AS n FROM tmdb_match_reviews GROUP BY status")}
    html = client.get("/admin/").get_data(as_text=True)
    for state in ("pending", "applied", "rejected", "deferred"):
        shown = re.search(rf'data-state="{state}"><a href="([^"]+)">{state}</a>: <strong>([\d,]+)</strong>', html)
        assert shown, state
        assert int(shown.group(2).replace(",", "")) == expected.get(state, 0)
        assert f"state={state}" in shown.group(1)


def test_a_large_queue_without_an_index_on_its_state_is_not_counted(client, app, monkeypatch):
    import views.dashboard_figures as figures

    outside_sql(app, "DROP INDEX ix_tmdb_match_reviews_status_score")
    app.extensions["backoffice.reflection"].tables["tmdb_match_reviews"].table.indexes.clear()
    monkeypatch.setattr(figures, "LARGE_QUEUE", 10)
    html = client.get("/admin/").get_data(as_text=True)
    assert "Not counted: tmdb_match_reviews is large and no index leads with status" in html
    assert 'data-state="pending"' not in html


def test_last_twenty_audit_events_newest_first_linking_to_the_history(app, client):
    for i in range(25):
        _edit_genre(app, 1 + i % 5, f"Name {i}")
    ids = [r["id"] for r in outside_sql(app, "SELECT id FROM backoffice_audit_events ORDER BY id DESC")]
    html = client.get("/admin/").get_data(as_text=True)
    shown = [int(i) for i in re.findall(r'<a href="/admin/audit/\?before=\d+" title="Open the audit history at this event">(\d+)</a>', html)]
    assert shown == ids[:20]
    assert f'href="/admin/audit/?before={ids[0] + 1}"' in html
    page = client.get(f"/admin/audit/?before={ids[5] + 1}").get_data(as_text=True)
    assert f'id="event-{ids[5]}"' in page  # the link opens the history at that event


def _verify(app):
    return CliRunner().invoke(main, ["audit-verify"], env={"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})


def test_status_database_limit_store_and_audit_never_then_verified(app, client):
    html = client.get("/admin/").get_data(as_text=True)
    assert re.search(r"<strong>Database</strong>: answers", html)
    assert re.search(r"<strong>Sign-in limit store</strong>: file on this host: answers", html)
    assert "never verified (run backoffice audit-verify)" in html
    _edit_genre(app, 1, "Verified")
    result = _verify(app)
    assert result.exit_code == 0, result.output
    html = client.get("/admin/").get_data(as_text=True)
    assert "never verified" not in html
    assert re.search(r'data-status="ok">\s*<span class="badge badge-success">OK</span>\s*<strong>Audit chain</strong>: '
                     r"last verified: OK, 1 row\(s\), no break", html)


def test_a_broken_chain_is_shown_as_failing(app, client):
    _edit_genre(app, 1, "First")
    _edit_genre(app, 2, "Second")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        outside_sql(app, "ALTER TABLE backoffice_audit_events DISABLE TRIGGER USER")
    outside_sql(app, "UPDATE backoffice_audit_events SET actor = 'mallory' WHERE id = "
                     "(SELECT min(id) FROM backoffice_audit_events)")
    assert _verify(app).exit_code == 1
    html = client.get("/admin/").get_data(as_text=True)
    assert re.search(r'data-status="failing">.*?<strong>Audit chain</strong>: last verified: FAILED, broken at row id=',
                     html, re.S)


def test_a_viewer_sees_no_audit_events(make_app, tmp_path):
    users = write_users(tmp_path / "users", {"vera": ("viewer", "pw-vera")})
    app = make_app(OPERATOR_AUTH_USERS_FILE=users, **ENV)
    _edit_genre(app, 1, "Secret rename")
    html = app.test_client().get("/admin/", headers=basic("vera", "pw-vera")).get_data(as_text=True)
    assert "Recent changes" not in html and "Secret rename" not in html and "/admin/audit/" not in html
    assert "System status" in html and "Review queues" in html


@pytest.mark.postgres
def test_no_dashboard_query_scans_a_table(pg_demo_url, make_app, db_url):
    """Every query the new sections run, planned with sequential scans switched off: a plan
    that still scans has no index to use (a small test table would otherwise be scanned by
    choice)."""
    if db_url != pg_demo_url:
        pytest.skip("planned on PostgreSQL (the [postgresql] case)")
    app = make_app()
    _edit_genre(app, 1, "Planned")
    _store_report(app)
    _store_report(app)
    statements = []
    with app.app_context():
        engine = app.extensions["backoffice.db"].engine

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert app.test_client().get("/admin/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    watched = ("tmdb_match_reviews", "backoffice_audit_events", "backoffice_health_history",
               "backoffice_audit_verifications", "backoffice_health_snapshots")
    # the "Screens" table's exact counts of small tables (estimates above 100,000 rows)
    row_count = re.compile(r"^SELECT count\(\*\) AS count_1\s+FROM \S+$")
    checked = 0
    with engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT") or row_count.match(statement.strip()):
                continue
            if not any(name in statement for name in watched):
                continue
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert "Seq Scan" not in plan, f"{statement}\n{plan}"
            checked += 1
    assert checked >= 7  # four queue states, audit events, the snapshot, its history, the verification
