"""Sign-in events: first sign-ins once per operator and address, failures and lockouts
counted per address and window, and a flood of addresses that cannot grow the table."""
from __future__ import annotations


from backoffice.auth.signins import OTHER_ADDRESSES, SignInEvents
from backoffice.core.engine import create_engine
from backoffice.core.settings import load_settings
from models.own import init_db
from tests.auth_helpers import ADMIN, ENV, basic, write_users
from tests.conftest import outside_sql

EVENTS = "SELECT kind, client_addr, username, tried, count FROM backoffice_security_events ORDER BY id"


def _events(app, kind=None):
    rows = outside_sql(app, EVENTS)
    return [dict(r) for r in rows if kind is None or r["kind"] == kind]


def test_a_first_sign_in_is_recorded_once_per_operator_and_address(make_app, tmp_path):
    users = write_users(tmp_path / "users", {"ann": ("admin", ADMIN[1]), "bob": ("viewer", "bob's long password")})
    app = make_app(OPERATOR_AUTH_USERS_FILE=users)
    client = app.test_client()
    for _ in range(5):
        assert client.get("/admin/", headers=basic(*ADMIN), environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 200
    client.get("/admin/", headers=basic(*ADMIN), environ_base={"REMOTE_ADDR": "10.0.0.2"})
    client.get("/admin/", headers=basic("bob", "bob's long password"), environ_base={"REMOTE_ADDR": "10.0.0.1"})
    # A second process (a fresh app on the same database) does not record the pair again either.
    make_app(OPERATOR_AUTH_USERS_FILE=users).test_client().get(
        "/admin/", headers=basic(*ADMIN), environ_base={"REMOTE_ADDR": "10.0.0.1"})
    signed_in = sorted((e["username"], e["client_addr"], e["count"]) for e in _events(app, "sign_in"))
    assert signed_in == [("ann", "10.0.0.1", 1), ("ann", "10.0.0.2", 1), ("bob", "10.0.0.1", 1)]


def test_failures_are_counted_per_address_not_appended(make_app):
    app = make_app(OPERATOR_AUTH_RATE_LIMIT_MAX=50, **ENV)
    client = app.test_client()
    for _ in range(3):  # a browser's first, credential-less requests are not failed sign-ins
        assert client.get("/admin/", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 401
    assert _events(app, "sign_in_failed") == []
    for attempt in range(20):
        reply = client.get("/admin/", headers=basic("ann", f"guess {attempt}"), environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert reply.status_code == 401
    client.get("/admin/", headers=basic("eve", "x"), environ_base={"REMOTE_ADDR": "10.0.0.8"})
    failed = _events(app, "sign_in_failed")
    assert [(e["client_addr"], e["tried"], e["count"]) for e in failed] == [("10.0.0.9", "ann", 20),
                                                                          ("10.0.0.8", "eve", 1)]


def test_a_lockout_is_recorded_once_per_address_and_window(make_app):
    app = make_app(OPERATOR_AUTH_RATE_LIMIT_MAX=3, **ENV)
    client = app.test_client()
    statuses = [client.get("/admin/", headers=basic("ann", "wrong"), environ_base={"REMOTE_ADDR": "10.0.0.5"})
                .status_code for _ in range(8)]
    assert statuses == [401] * 3 + [429] * 5
    assert [(e["client_addr"], e["count"]) for e in _events(app, "lockout")] == [("10.0.0.5", 1)]
    assert [(e["client_addr"], e["count"]) for e in _events(app, "sign_in_failed")] == [("10.0.0.5", 3)]


def test_a_flood_of_addresses_cannot_grow_the_table_beyond_its_bound(db_url, tmp_path):
    engine = create_engine(load_settings({"DATABASE_URL": db_url}))
    try:
        init_db(engine)
        events = SignInEvents(lambda: engine, window_seconds=3600, max_addresses=5)
        for n in range(30):  # one host's /64 counts as one address
            events.failed(f"2001:db8:1:2::{n:x}", "admin")
        for n in range(40):
            events.failed(f"198.51.100.{n}", "root")
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT client_addr, count FROM backoffice_security_events WHERE kind = 'sign_in_failed'").all()
    finally:
        engine.dispose()
    assert len(rows) == 6  # five addresses, then the shared row
    assert sum(count for _, count in rows) == 70  # nothing lost, only aggregated
    assert dict(rows)["2001:db8:1:2::/64"] == 30
    assert dict(rows)[OTHER_ADDRESSES] == 40 - 4


def test_the_audit_tab_lists_filters_and_exports_them_and_hides_them_from_lesser_roles(make_app, tmp_path):
    users = write_users(tmp_path / "users", {"ann": ("admin", ADMIN[1]), "vic": ("viewer", "vic's long password")})
    app = make_app(OPERATOR_AUTH_USERS_FILE=users, OPERATOR_AUTH_RATE_LIMIT_MAX=50)
    client = app.test_client()
    here = {"REMOTE_ADDR": "10.0.0.3"}
    client.get("/admin/", headers=basic("mallory", "x"), environ_base={"REMOTE_ADDR": "10.6.6.6"})
    page = client.get("/admin/audit/sign-ins/", headers=basic(*ADMIN), environ_base=here)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "10.6.6.6" in html and "mallory" in html and "10.0.0.3" in html
    failed_only = client.get("/admin/audit/sign-ins/?kind=sign_in_failed", headers=basic(*ADMIN),
                             environ_base=here).get_data(as_text=True)
    assert "mallory" in failed_only and "10.0.0.3" not in failed_only
    export = client.get("/admin/audit/sign-ins/export.csv?user=mallory", headers=basic(*ADMIN), environ_base=here)
    lines = export.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("id,kind,client_addr") and len(lines) == 2 and "mallory" in lines[1]
    exports = outside_sql(app, "SELECT actor FROM backoffice_audit_events WHERE entity_type = "
                               "'backoffice_security_events'")
    assert [r["actor"] for r in exports] == ["ann"]
    assert client.get("/admin/audit/sign-ins/", headers=basic("vic", "vic's long password"),
                      environ_base=here).status_code == 404
