"""Two-person approval, the paths around the screen's own edit and delete, on SQLite and
PostgreSQL: a decided request reopened in the database, an approver below the change's own role,
held creates (and a key taken meanwhile), held reverts, a queue's own expiry, and the audit
history's revert links next to approval steps."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from models.own import approval_requests

from tests.auth_helpers import ENV, basic, write_users
from tests.conftest import outside_sql
from tests.test_approvals import ADA, ANN, OTTO, _decide, _events, _name, _request_edit, _token

OLGA = basic("olga", "pw-olga")
CONFIG = """
[views.genres]
approval = { edit = "admin", delete = "operator" }

[views.people]
approval = { create = "admin" }

[queues.tmdb_matches]
table = "tmdb_match_reviews"
url = "review-queue"
subject = { table = "movies", column = "movie_id", show = ["title"] }
actions.apply = { from = ["pending", "deferred"], to = "applied", exclusive = true, approval = "admin", \
approval_hours = 3, effect = "queues.effects:apply_tmdb_match" }
"""


@pytest.fixture
def gap_app(make_app, tmp_path):
    users = write_users(tmp_path / "users", {"ada": ("admin", "pw-ada"), "otto": ("operator", "pw-otto"),
                                             "olga": ("operator", "pw-olga")})
    config = tmp_path / "backoffice.toml"
    config.write_text(CONFIG, encoding="utf-8")
    app = make_app(OPERATOR_AUTH_USERS_FILE=users, BACKOFFICE_CONFIG=config, **ENV)
    outside_sql(app, "INSERT INTO genres (id, tmdb_genre_id, name) VALUES (9301, 9301, 'Film noir')")
    return app


def _status(app, request_id: int) -> str:
    return outside_sql(app, "SELECT status FROM backoffice_approval_requests WHERE id = :i", i=request_id)[0]["status"]


def test_a_decided_request_reopened_in_the_database_is_refused_and_audited(gap_app):
    app, client = gap_app, gap_app.test_client()
    request_id = _request_edit(client, "Neo-noir", OTTO)
    assert _decide(client, request_id, ANN, "reject", "not a genre").status_code == 302
    # someone with database access reopens it: every column the decision wrote is cleared
    outside_sql(app, "UPDATE backoffice_approval_requests SET status = 'pending', decided_by = NULL, "
                "decided_at = NULL, decision_reason = NULL WHERE id = :i", i=request_id)
    response = _decide(client, request_id, ADA, "approve")
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "audit trail records it rejected" in body
    assert _name(app) == "Film noir" and _status(app, request_id) == "pending"
    refused = _events(app, "approval.refused")[-1]
    assert refused["actor"] == "ada" and refused["changes"]["request"] == request_id
    assert not _events(app, "approval.approved")


def test_an_approver_must_hold_the_role_the_change_itself_needs(gap_app):
    app, client = gap_app, gap_app.test_client()
    html = client.get("/admin/genres/", headers=ANN).get_data(as_text=True)
    body = client.post("/admin/genres/delete/", headers=ANN, follow_redirects=True, data={
        "csrf_token": _token(html), "id": "9301", "url": "/admin/genres/"}).get_data(as_text=True)
    request_id = int(re.search(r"request #(\d+)", body).group(1))
    # olga holds the approval role (operator) but deleting genres needs admin: refused
    response = _decide(client, request_id, OLGA, "approve")
    assert response.status_code == 409 and "needs the role admin" in response.get_data(as_text=True)
    assert _name(app) == "Film noir" and _status(app, request_id) == "pending"
    assert _decide(client, request_id, ADA, "approve").status_code == 302
    assert outside_sql(app, "SELECT count(*) AS n FROM genres WHERE id = 9301")[0]["n"] == 0


def _request_person(client, name: str, tmdb_id: int, headers) -> int:
    html = client.get("/admin/people/new/", headers=headers).get_data(as_text=True)
    response = client.post("/admin/people/new/", headers=headers, follow_redirects=True, data={
        "csrf_token": _token(html), "name": name, "tmdb_person_id": str(tmdb_id)})
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:500]
    return int(re.search(r"request #(\d+)", body).group(1))


def _people(app, tmdb_id: int) -> list[dict]:
    return outside_sql(app, "SELECT id, name FROM people WHERE tmdb_person_id = :t", t=tmdb_id)


def test_a_create_is_held_then_applied_through_the_hooks(gap_app):
    app, client = gap_app, gap_app.test_client()
    request_id = _request_person(client, "Ida Lupino", 990001, ANN)
    assert _people(app, 990001) == []  # held, nothing created
    assert _decide(client, request_id, ANN, "approve").status_code == 409  # never the requester
    assert _decide(client, request_id, ADA, "approve", "known director").status_code == 302
    created = _people(app, 990001)
    assert [p["name"] for p in created] == ["Ida Lupino"]
    event = [e for e in _events(app, "create") if e["entity_type"] == "people"][-1]
    assert event["actor"] == "ada" and "requested by ann" in event["reason"]
    assert event["entity_id"] == str(created[0]["id"])


def test_a_create_whose_unique_key_was_taken_meanwhile_is_a_conflict(gap_app):
    app, client = gap_app, gap_app.test_client()
    request_id = _request_person(client, "Ida Lupino", 990002, ANN)
    outside_sql(app, "INSERT INTO people (name, tmdb_person_id) VALUES ('Someone else', 990002)")
    response = _decide(client, request_id, ADA, "approve")
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "approval-conflict" in body and "tmdb_person_id" in body
    assert [p["name"] for p in _people(app, 990002)] == ["Someone else"]
    assert _status(app, request_id) == "pending"


def test_a_revert_of_a_held_kind_waits_for_approval(gap_app):
    app, client = gap_app, gap_app.test_client()
    # a revert of an update is an edit of genres, which an admin must approve
    rename = _request_edit(client, "Neo-noir", OTTO)
    assert _decide(client, rename, ADA, "approve").status_code == 302 and _name(app) == "Neo-noir"
    update = [e for e in _events(app, "update") if e["entity_id"] == "9301"][-1]
    page = client.get(f"/admin/revert/?event={update['id']}", headers=OTTO).get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    held = client.post("/admin/revert/", headers=OTTO, follow_redirects=True, data={
        "csrf_token": _token(page), "token": token, "reason": "wrong name", "mode": "clean"})
    body = held.get_data(as_text=True)
    assert held.status_code == 200 and "waits for approval" in body
    assert _name(app) == "Neo-noir"  # nothing reverted yet
    request_id = int(re.search(r"request #(\d+)", body).group(1))
    assert _decide(client, request_id, ANN, "approve", "agreed").status_code == 302
    assert _name(app) == "Film noir"
    revert = _events(app, "revert")[-1]
    assert revert["actor"] == "ann" and revert["changes"]["reverts"] == update["id"]
    assert "requested by otto: wrong name" in revert["reason"]
    # the approved rename's request: its history offers the request-wide revert, and that page answers
    history = client.get("/admin/audit/?entity=9301", headers=ANN).get_data(as_text=True)
    for event in _events(app, "approval.approved"):
        assert f"/admin/revert/?event={event['id']}" not in history
    assert client.get(f"/admin/revert/request?rid={update['request_id']}", headers=ANN).status_code == 200


def test_reverting_a_whole_request_does_not_skip_the_approval_its_rows_need(gap_app):
    app, client = gap_app, gap_app.test_client()
    rename = _request_edit(client, "Neo-noir", OTTO)
    assert _decide(client, rename, ADA, "approve").status_code == 302 and _name(app) == "Neo-noir"
    update = [e for e in _events(app, "update") if e["entity_id"] == "9301"][-1]
    page = client.get(f"/admin/revert/request?rid={update['request_id']}", headers=ANN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    token = re.search(r'name="token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
    before = len(_events(app, "revert"))
    refused = client.post("/admin/revert/request", headers=ANN, follow_redirects=True, data={
        "csrf_token": _token(html), "token": token, "reason": "wrong name", "mode": "clean"})
    assert "need a second operator&#39;s approval" in refused.get_data(as_text=True) or \
        "need a second operator's approval" in refused.get_data(as_text=True)
    assert _name(app) == "Neo-noir" and len(_events(app, "revert")) == before


def test_a_held_revert_is_refused_when_the_row_changed_meanwhile(gap_app):
    app, client = gap_app, gap_app.test_client()
    rename = _request_edit(client, "Neo-noir", OTTO)
    assert _decide(client, rename, ADA, "approve").status_code == 302
    update = [e for e in _events(app, "update") if e["entity_id"] == "9301"][-1]
    page = client.get(f"/admin/revert/?event={update['id']}", headers=OTTO).get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    body = client.post("/admin/revert/", headers=OTTO, follow_redirects=True, data={
        "csrf_token": _token(page), "token": token, "reason": "wrong name", "mode": "clean"}).get_data(as_text=True)
    request_id = int(re.search(r"request #(\d+)", body).group(1))
    outside_sql(app, "UPDATE genres SET name = 'Noir' WHERE id = 9301")
    response = _decide(client, request_id, ANN, "approve")
    assert response.status_code == 409 and "changed after this event" in response.get_data(as_text=True)
    assert _name(app) == "Noir" and _status(app, request_id) == "pending"


def test_a_queue_action_declares_its_own_approval_hours(gap_app):
    app, client = gap_app, gap_app.test_client()
    review = outside_sql(app, "SELECT id FROM tmdb_match_reviews WHERE status = 'pending' ORDER BY id LIMIT 1")[0]
    queue = "/admin/review-queue/"
    html = client.post(queue + "confirm/", headers=OTTO, data={
        "csrf_token": _token(client.get(queue, headers=OTTO).get_data(as_text=True)),
        "row_action": f"apply:{review['id']}"}).get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    body = client.post(queue + "execute/", headers=OTTO, follow_redirects=True, data={
        "csrf_token": _token(html), "token": token, "reason": "same film"}).get_data(as_text=True)
    request_id = int(re.search(r"request #(\d+)", body).group(1))
    with app.app_context():
        row = app.extensions["backoffice.db"].session.execute(
            select(approval_requests).where(approval_requests.c.id == request_id)).mappings().one()
    assert row["expires_at"] - row["created_at"] == dt.timedelta(hours=3)
