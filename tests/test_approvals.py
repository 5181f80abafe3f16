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

[views.movies.actions.resync]
set = { tmdb_synced_at = "null()" }
approval = "admin"

[queues.tmdb_matches]
table = "tmdb_match_reviews"
url = "review-queue"
subject = { table = "movies", column = "movie_id", show = ["title"] }
actions.apply = { from = ["pending", "deferred"], to = "applied", exclusive = true, approval = "admin", \
effect = "queues.effects:apply_tmdb_match" }
actions.reject = { from = ["pending", "deferred"], to = "rejected", reason = "required" }
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


def test_a_queue_apply_waits_for_approval_then_runs_the_queue_apply(approving_app):
    app, client = approving_app, approving_app.test_client()
    review = outside_sql(app, """
        SELECT r.id, r.movie_id, r.candidate_tmdb_id FROM tmdb_match_reviews r
        WHERE r.status = 'pending' AND NOT EXISTS (SELECT 1 FROM movies o WHERE o.tmdb_id = r.candidate_tmdb_id)
          AND EXISTS (SELECT 1 FROM tmdb_match_reviews s WHERE s.movie_id = r.movie_id AND s.id <> r.id
                      AND s.status = 'pending')
        ORDER BY r.id LIMIT 1""")[0]
    queue = "/admin/review-queue/"
    html = client.post(queue + "confirm/", headers=OTTO, data={
        "csrf_token": _token(client.get(queue, headers=OTTO).get_data(as_text=True)),
        "row_action": f"apply:{review['id']}"}).get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    response = client.post(queue + "execute/", headers=OTTO, follow_redirects=True,
                           data={"csrf_token": _token(html), "token": token, "reason": "same film"})
    body = response.get_data(as_text=True)
    request_id = int(re.search(r"request #(\d+)", body).group(1))
    state = "SELECT status FROM tmdb_match_reviews WHERE id = :i"
    assert outside_sql(app, state, i=review["id"])[0]["status"] == "pending"
    listed = client.get(f"{queue}?min_score=0&sort=age&page=0", headers=OTTO).get_data(as_text=True)
    marker = re.search(rf'pending approval #{request_id}', listed) or \
        re.search(rf'pending approval #{request_id}', "".join(
            client.get(f"{queue}?sort=age&page={p}", headers=OTTO).get_data(as_text=True) for p in range(1, 30)))
    assert marker, "the queue row shows no 'pending approval' marker"
    assert _decide(client, request_id, ANN, "approve", "looks right").status_code == 302
    assert outside_sql(app, state, i=review["id"])[0]["status"] == "applied"
    assert outside_sql(app, "SELECT tmdb_id FROM movies WHERE id = :m", m=review["movie_id"])[0]["tmdb_id"] == \
        review["candidate_tmdb_id"]
    siblings = outside_sql(app, "SELECT status FROM tmdb_match_reviews WHERE movie_id = :m AND id <> :i",
                           m=review["movie_id"], i=review["id"])
    assert siblings and all(s["status"] != "pending" for s in siblings)  # the queue's own apply closed them
    applied = _events(app, "review.apply")[-1]
    assert applied["actor"] == "ann" and "requested by otto: same film" in applied["reason"]


def test_a_declared_row_action_waits_for_approval(approving_app):
    app, client = approving_app, approving_app.test_client()
    movie = outside_sql(app, "SELECT id FROM movies WHERE tmdb_synced_at IS NOT NULL ORDER BY id LIMIT 1")[0]["id"]
    html = client.get("/admin/movies/", headers=OTTO).get_data(as_text=True)
    confirm = client.post("/admin/movies/action/", headers=OTTO, data={
        "csrf_token": _token(html), "action": "declared:resync", "rowid": str(movie)}, follow_redirects=True)
    page = confirm.get_data(as_text=True)
    token = re.search(r'name="token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.post("/admin/movies/declared-action/", headers=OTTO, follow_redirects=True,
                           data={"csrf_token": _token(page), "token": token, "reason": "stale"})
    request_id = int(re.search(r"request #(\d+)", response.get_data(as_text=True)).group(1))
    synced = "SELECT tmdb_synced_at FROM movies WHERE id = :m"
    assert outside_sql(app, synced, m=movie)[0]["tmdb_synced_at"] is not None
    assert _decide(client, request_id, ANN, "approve").status_code == 302
    assert outside_sql(app, synced, m=movie)[0]["tmdb_synced_at"] is None
    done = _events(app, "action.resync")[-1]
    assert done["actor"] == "ann" and "requested by otto: stale" in done["reason"]
