"""Two-person approval on SQLite and PostgreSQL: a held change is stored, not applied; only
another operator with the role applies it (one transaction, both names audited) or rejects
it; the requester, other roles, conflicts, expiry, tampering and racing approvers are refused."""
from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select, text

from models.own import approval_requests, audit_events

from tests.auth_helpers import ADMIN, ENV, basic, write_users
from tests.conftest import outside_sql

ANN = basic(*ADMIN)
ADA = basic("ada", "pw-ada")
OTTO = basic("otto", "pw-otto")
VERA = basic("vera", "pw-vera")
CONFIG = """
[views.genres]
approval = { edit = "admin", delete = "admin" }
approval_hours = 2
"""


@pytest.fixture
def approving_app(make_app, tmp_path):
    users = write_users(tmp_path / "users", {"ada": ("admin", "pw-ada"), "otto": ("operator", "pw-otto"),
                                             "vera": ("viewer", "pw-vera")})
    config = tmp_path / "backoffice.toml"
    config.write_text(CONFIG, encoding="utf-8")
    app = make_app(OPERATOR_AUTH_USERS_FILE=users, BACKOFFICE_CONFIG=config, **ENV)
    outside_sql(app, "INSERT INTO genres (id, tmdb_genre_id, name) VALUES (9301, 9301, 'Film noir')")
    return app


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _name(app) -> str:
    return outside_sql(app, "SELECT name FROM genres WHERE id = 9301")[0]["name"]


def _request_edit(client, name: str, headers) -> int:
    html = client.get("/admin/genres/edit/?id=9301", headers=headers).get_data(as_text=True)
    response = client.post("/admin/genres/edit/?id=9301", headers=headers, follow_redirects=True,
                           data={"csrf_token": _token(html), "name": name, "tmdb_genre_id": "9301"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:500]
    return int(re.search(r"request #(\d+)", body).group(1))


def _events(app, action: str) -> list[dict]:
    with app.app_context():
        db = app.extensions["backoffice.db"]
        rows = db.session.execute(select(audit_events).where(audit_events.c.action == action)
                                  .order_by(audit_events.c.id)).mappings().all()
        return [dict(r) for r in rows]


def _any_token(client, headers) -> str:
    """A valid CSRF token from a page with a form: a forged POST carries one too."""
    return _token(client.get("/admin/genres/edit/?id=9301", headers=headers).get_data(as_text=True))


def _decide(client, request_id: int, headers, decision: str, reason: str = ""):
    page = client.get(f"/admin/approvals/{request_id}", headers=headers)
    assert page.status_code == 200
    return client.post(f"/admin/approvals/{request_id}", headers=headers,
                       data={"csrf_token": _any_token(client, headers), "decision": decision, "reason": reason})


def test_an_edit_is_held_then_applied_by_another_admin_with_both_names(approving_app):
    app, client = approving_app, approving_app.test_client()
    request_id = _request_edit(client, "Neo-noir", OTTO)
    assert _name(app) == "Film noir"  # held, not applied
    requested = _events(app, "approval.requested")
    assert requested[-1]["actor"] == "otto" and requested[-1]["changes"]["new"] == {"name": "Neo-noir"}
    assert not [e for e in _events(app, "update") if e["entity_type"] == "genres" and e["entity_id"] == "9301"]
    listing = client.get("/admin/approvals/", headers=ANN).get_data(as_text=True)
    assert f'data-request="{request_id}"' in listing and "wait for your approval" in listing
    response = _decide(client, request_id, ANN, "approve", "checked with the editor")
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    assert _name(app) == "Neo-noir"
    update = [e for e in _events(app, "update") if e["entity_id"] == "9301"][-1]
    assert update["actor"] == "ann" and "requested by otto" in update["reason"] and "approved by ann" in update["reason"]
    approved = _events(app, "approval.approved")[-1]
    assert approved["actor"] == "ann" and approved["changes"]["requester"] == "otto"
    # decided once: a second approval is refused
    assert _decide(client, request_id, ADA, "approve").status_code == 409


def test_the_requester_cannot_approve_even_as_admin_nor_by_a_forged_post(approving_app):
    app, client = approving_app, approving_app.test_client()
    request_id = _request_edit(client, "Self-approved", ADA)
    page = client.get(f"/admin/approvals/{request_id}", headers=ADA).get_data(as_text=True)
    assert "Approve and apply" not in page and "another operator must decide it" in page
    response = client.post(f"/admin/approvals/{request_id}", headers=ADA,
                           data={"csrf_token": _any_token(client, ADA), "decision": "approve"})
    assert response.status_code == 409 and "another operator must decide it" in response.get_data(as_text=True)
    assert _name(app) == "Film noir"
    assert outside_sql(app, "SELECT status FROM backoffice_approval_requests WHERE id = :i", i=request_id)[0]["status"] \
        == "pending"


def test_operators_and_viewers_without_the_role_get_a_missing_page(approving_app):
    app, client = approving_app, approving_app.test_client()
    request_id = _request_edit(client, "Neo-noir", OTTO)
    token = _token(client.get(f"/admin/approvals/{request_id}", headers=ANN).get_data(as_text=True))
    for headers in (OTTO, VERA):
        assert client.get("/admin/approvals/", headers=headers).status_code == 404
        assert client.get(f"/admin/approvals/{request_id}", headers=headers).status_code == 404
        forged = client.post(f"/admin/approvals/{request_id}", headers=headers,
                             data={"csrf_token": token, "decision": "approve"})
        assert forged.status_code == 404
        assert client.post(f"/admin/approvals/{request_id}", headers=headers, data={"decision": "approve"}
                           ).status_code == 404  # no CSRF token either: still a missing page
    assert _name(app) == "Film noir"


def test_rejection_needs_a_reason_and_is_audited(approving_app):
    app, client = approving_app, approving_app.test_client()
    request_id = _request_edit(client, "Neo-noir", OTTO)
    assert _decide(client, request_id, ANN, "reject").status_code == 409
    assert _decide(client, request_id, ANN, "reject", "not a genre").status_code == 302
    assert _name(app) == "Film noir"
    rejected = _events(app, "approval.rejected")[-1]
    assert rejected["actor"] == "ann" and rejected["reason"] == "not a genre"


def test_a_row_changed_since_the_request_is_a_conflict(approving_app):
    app, client = approving_app, approving_app.test_client()
    request_id = _request_edit(client, "Neo-noir", OTTO)
    outside_sql(app, "UPDATE genres SET name = 'Noir' WHERE id = 9301")
    response = _decide(client, request_id, ANN, "approve")
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "approval-conflict" in body
    assert re.search(r'data-column="name"><td>name</td><td><code>Film noir</code></td><td><code>Noir</code></td>'
                     r'<td><code>Neo-noir</code></td>', body)
    assert _name(app) == "Noir"
    assert outside_sql(app, "SELECT status FROM backoffice_approval_requests WHERE id = :i", i=request_id)[0]["status"] \
        == "pending"


def test_an_expired_request_cannot_be_approved(approving_app):
    app, client = approving_app, approving_app.test_client()
    request_id = _request_edit(client, "Neo-noir", OTTO)
    with app.app_context():  # as if two hours had passed: move the signed times back, re-signed
        from views.approval_store import _sign
        db = app.extensions["backoffice.db"]
        row = dict(db.session.execute(select(approval_requests).where(approval_requests.c.id == request_id))
                   .mappings().one())
        import datetime as dt
        row["created_at"] = row["created_at"] - dt.timedelta(hours=3)
        row["expires_at"] = row["expires_at"] - dt.timedelta(hours=3)
        signature = _sign(row)
    outside_sql(app, "UPDATE backoffice_approval_requests SET created_at = :c, expires_at = :e, signature = :s "
                "WHERE id = :i", c=row["created_at"], e=row["expires_at"], s=signature, i=request_id)
    response = _decide(client, request_id, ANN, "approve")
    assert response.status_code == 409 and "expired" in response.get_data(as_text=True)
    assert _name(app) == "Film noir"
    assert _events(app, "approval.refused")[-1]["changes"]["why"].startswith("the request expired")


def test_a_request_edited_in_the_database_is_refused(approving_app):
    app, client = approving_app, approving_app.test_client()
    request_id = _request_edit(client, "Neo-noir", OTTO)
    rows = outside_sql(app, "SELECT rows FROM backoffice_approval_requests WHERE id = :i", i=request_id)[0]["rows"]
    forged = (rows if isinstance(rows, str) else __import__("json").dumps(rows)).replace("Neo-noir", "Hacked")
    outside_sql(app, "UPDATE backoffice_approval_requests SET rows = :r WHERE id = :i", r=forged, i=request_id)
    response = _decide(client, request_id, ANN, "approve")
    assert response.status_code == 409 and "altered in the database" in response.get_data(as_text=True)
    assert _name(app) == "Film noir"


def test_a_delete_is_held_then_applied(approving_app):
    app, client = approving_app, approving_app.test_client()
    html = client.get("/admin/genres/", headers=ADA).get_data(as_text=True)
    response = client.post("/admin/genres/delete/", headers=ADA, follow_redirects=True,
                           data={"csrf_token": _token(html), "id": "9301", "url": "/admin/genres/"})
    body = response.get_data(as_text=True)
    request_id = int(re.search(r"request #(\d+)", body).group(1))
    assert _name(app) == "Film noir"
    assert _decide(client, request_id, ANN, "approve").status_code == 302
    assert outside_sql(app, "SELECT count(*) AS n FROM genres WHERE id = 9301")[0]["n"] == 0
    assert [e for e in _events(app, "delete") if e["entity_id"] == "9301"][-1]["actor"] == "ann"


def test_two_approvers_racing_exactly_one_applies(approving_app):
    app = approving_app
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the race needs concurrent writers: PostgreSQL")
    request_id = _request_edit(app.test_client(), "Neo-noir", OTTO)
    pages = {who: app.test_client() for who in ("ann", "ada")}
    tokens = {who: _token(c.get(f"/admin/approvals/{request_id}", headers=ANN if who == "ann" else ADA)
                          .get_data(as_text=True)) for who, c in pages.items()}
    barrier, results = threading.Barrier(2), {}

    def approve(who):
        barrier.wait()
        results[who] = pages[who].post(f"/admin/approvals/{request_id}", headers=ANN if who == "ann" else ADA,
                                       data={"csrf_token": tokens[who], "decision": "approve"}).status_code

    threads = [threading.Thread(target=approve, args=(w,)) for w in pages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [302, 409]
    assert len([e for e in _events(app, "update") if e["entity_id"] == "9301"]) == 1
    assert len(_events(app, "approval.approved")) == 1
