"""The TMDB match-review queue: list, confirm, apply / reject / defer, bulk, races."""
import json
import re
import threading


from tests.conftest import csrf_token, outside_sql

QUEUE = "/admin/review-queue/"


def _sql(app, sql, **params):
    return outside_sql(app, sql, **params)


def _one(app, sql, **params):
    rows = _sql(app, sql, **params)
    return rows[0] if rows else None


def _applicable(app, status="pending"):
    """A review whose candidate no other movie holds (so apply can succeed)."""
    return _one(app, """
        SELECT r.id, r.movie_id, r.candidate_tmdb_id, m.tmdb_id AS movie_tmdb_id FROM tmdb_match_reviews r
        JOIN movies m ON m.id = r.movie_id
        WHERE r.status = :status AND NOT EXISTS (SELECT 1 FROM movies o WHERE o.tmdb_id = r.candidate_tmdb_id)
          AND EXISTS (SELECT 1 FROM tmdb_match_reviews s WHERE s.movie_id = r.movie_id AND s.id <> r.id
                      AND s.status = 'pending') = :with_sibling
        ORDER BY r.id LIMIT 1""", status=status, with_sibling=False)


def _confirm(client, **form):
    token = csrf_token(client, QUEUE + "?state=all")
    return client.post(QUEUE + "confirm/", data={"csrf_token": token, **form})


def _execute(client, confirm_html, **form):
    token = re.search(r'name="token" value="([^"]+)"', confirm_html).group(1)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', confirm_html).group(1)
    return client.post(QUEUE + "execute/", data={"csrf_token": csrf, "token": token, **form})


def test_pending_reviews_listed_by_default_with_movie_and_candidate(app, client, demo_counts):
    html = client.get(QUEUE).get_data(as_text=True)
    assert f"{demo_counts.reviews['pending']:,} rows" in html
    review = _one(app, "SELECT r.id, r.candidate_tmdb_id, m.title, r.movie_id FROM tmdb_match_reviews r "
                       "JOIN movies m ON m.id = r.movie_id WHERE status = 'pending' ORDER BY match_score DESC, r.id LIMIT 1")
    assert f'href="https://www.themoviedb.org/movie/{review["candidate_tmdb_id"]}"' in html
    assert f'href="/admin/movies/details/?id={review["movie_id"]}"' in html
    assert review["title"] in html


def test_filters_by_state_score_and_age(app, client, demo_counts):
    html = client.get(QUEUE + "?state=deferred").get_data(as_text=True)
    assert f"{demo_counts.reviews['deferred']:,} rows" in html
    high = _one(app, "SELECT count(*) AS n FROM tmdb_match_reviews WHERE status = 'pending' AND match_score >= 0.9")["n"]
    html = client.get(QUEUE + "?min_score=0.9").get_data(as_text=True)
    assert f"{high:,} row" in html
    everything = sum(demo_counts.reviews.values())
    assert f"{everything:,} rows" in client.get(QUEUE + "?state=all").get_data(as_text=True)
    assert "0 rows" in client.get(QUEUE + "?state=all&max_age=-1").get_data(as_text=True)
    # nonsense parameters fall back to defaults instead of failing
    assert client.get(QUEUE + "?state=bogus&min_score=abc&sort=evil&page=-3").status_code == 200


def test_apply_sets_tmdb_id_and_closes_sibling_reviews(app, client):
    review = _one(app, """
        SELECT r.id, r.movie_id, r.candidate_tmdb_id, m.tmdb_id AS old FROM tmdb_match_reviews r JOIN movies m ON m.id = r.movie_id
        WHERE r.status = 'pending' AND NOT EXISTS (SELECT 1 FROM movies o WHERE o.tmdb_id = r.candidate_tmdb_id)
        ORDER BY r.id LIMIT 1""")
    sibling = _sql(app, "INSERT INTO tmdb_match_reviews (movie_id, candidate_tmdb_id, candidate_title, match_score, "
                        "status, created_at, updated_at) VALUES (:m, 77777777, 'Other', 0.5, 'pending', "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)", m=review["movie_id"])
    sibling_id = _one(app, "SELECT id FROM tmdb_match_reviews WHERE candidate_tmdb_id = 77777777")["id"]
    confirm = _confirm(client, row_action=f"apply:{review['id']}")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    old = "empty" if review["old"] is None else str(review["old"])
    assert f"movie #{review['movie_id']} tmdb_id: <code>{old}</code> &rarr; <code>{review['candidate_tmdb_id']}</code>" in html
    assert f"review #{sibling_id} status" in html
    # nothing changed yet
    assert _one(app, "SELECT status FROM tmdb_match_reviews WHERE id = :i", i=review["id"])["status"] == "pending"
    done = _execute(client, html, reason="verified on TMDB")
    assert done.status_code == 302
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Apply: 1 of 1 row applied; 0 skipped." in page
    after = _one(app, "SELECT status, decided_by, decided_at, decision_note FROM tmdb_match_reviews WHERE id = :i", i=review["id"])
    assert after["status"] == "applied" and after["decided_by"] == "local" and after["decided_at"] is not None
    assert after["decision_note"] == "verified on TMDB"
    movie = _one(app, "SELECT tmdb_id FROM movies WHERE id = :i", i=review["movie_id"])
    assert movie["tmdb_id"] == review["candidate_tmdb_id"]
    closed = _one(app, "SELECT status, decision_note FROM tmdb_match_reviews WHERE id = :i", i=sibling_id)
    assert closed["status"] == "rejected" and closed["decision_note"] == f"superseded: review #{review['id']} was applied"
    # one change set, named review.apply, with the reason, the movie's old -> new and every review row
    events = _sql(app, "SELECT action, entity_type, entity_id, changes, reason, actor, request_id "
                       "FROM backoffice_audit_events WHERE action = 'review.apply' ORDER BY id")
    assert {(e["entity_type"], e["entity_id"]) for e in events} == {
        ("movies", str(review["movie_id"])), ("tmdb_match_reviews", str(review["id"])),
        ("tmdb_match_reviews", str(sibling_id))}
    assert {e["reason"] for e in events} == {"verified on TMDB"} and {e["actor"] for e in events} == {"local"}
    assert len({e["request_id"] for e in events}) == 1
    movie_event = next(e for e in events if e["entity_type"] == "movies")
    changes = movie_event["changes"] if isinstance(movie_event["changes"], dict) else json.loads(movie_event["changes"])
    assert changes["old"]["tmdb_id"] == review["old"] and changes["new"]["tmdb_id"] == review["candidate_tmdb_id"]


def test_apply_conflicting_candidate_is_refused_naming_the_movie(app, client):
    conflict = _one(app, """
        SELECT r.id, r.movie_id, o.id AS holder, o.title AS holder_title FROM tmdb_match_reviews r
        JOIN movies o ON o.tmdb_id = r.candidate_tmdb_id AND o.id <> r.movie_id
        WHERE r.status = 'pending' ORDER BY r.id LIMIT 1""")
    assert conflict, "the demo catalog plants conflicting candidates"
    before = _one(app, "SELECT tmdb_id FROM movies WHERE id = :i", i=conflict["movie_id"])["tmdb_id"]
    html = _confirm(client, row_action=f"apply:{conflict['id']}").get_data(as_text=True)
    assert f"already belongs to movie #{conflict['holder']}" in html
    done = _execute(client, html)
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "0 of 1 row applied; 1 skipped." in page
    assert f"#{conflict['id']} skipped: TMDB id" in page and f"movie #{conflict['holder']}" in page
    assert _one(app, "SELECT status FROM tmdb_match_reviews WHERE id = :i", i=conflict["id"])["status"] == "pending"
    assert _one(app, "SELECT tmdb_id FROM movies WHERE id = :i", i=conflict["movie_id"])["tmdb_id"] == before
    assert _one(app, "SELECT count(*) AS n FROM backoffice_audit_events")["n"] == 0


def test_reject_requires_a_reason(app, client):
    review = _applicable(app)
    html = _confirm(client, row_action=f"reject:{review['id']}").get_data(as_text=True)
    refused = _execute(client, html, reason="   ")
    assert refused.status_code == 422
    assert "A reason is required to reject." in refused.get_data(as_text=True)
    assert _one(app, "SELECT status FROM tmdb_match_reviews WHERE id = :i", i=review["id"])["status"] == "pending"
    done = _execute(client, refused.get_data(as_text=True), reason="wrong year")
    assert done.status_code == 302
    after = _one(app, "SELECT status, decision_note FROM tmdb_match_reviews WHERE id = :i", i=review["id"])
    assert (after["status"], after["decision_note"]) == ("rejected", "wrong year")


def test_defer_leaves_pending_list_and_reopen_brings_it_back(app, client):
    review = _applicable(app)
    _execute(client, _confirm(client, row_action=f"defer:{review['id']}").get_data(as_text=True))
    assert _one(app, "SELECT status FROM tmdb_match_reviews WHERE id = :i", i=review["id"])["status"] == "deferred"
    assert f'value="apply:{review["id"]}"' not in client.get(QUEUE + "?sort=age").get_data(as_text=True)
    _execute(client, _confirm(client, row_action=f"reopen:{review['id']}").get_data(as_text=True), reason="new info")
    after = _one(app, "SELECT status, decided_by FROM tmdb_match_reviews WHERE id = :i", i=review["id"])
    assert after["status"] == "pending" and after["decided_by"] is None


def test_transitions_outside_the_declared_ones_are_refused(app, client):
    applied = _one(app, "SELECT id FROM tmdb_match_reviews WHERE status = 'applied' ORDER BY id LIMIT 1")
    html = _confirm(client, row_action=f"reject:{applied['id']}").get_data(as_text=True)
    assert "is already applied by seed" in html
    done = _execute(client, html, reason="try")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"#{applied['id']} skipped: is already applied by seed" in page
    assert _one(app, "SELECT status FROM tmdb_match_reviews WHERE id = :i", i=applied["id"])["status"] == "applied"
    # an action name that does not exist is a 404, like a missing page
    assert _confirm(client, row_action=f"delete:{applied['id']}").status_code == 404


def test_bulk_needs_typed_count_and_token_binds_the_selection(app, client):
    ids = [r["id"] for r in _sql(app, "SELECT id FROM tmdb_match_reviews WHERE status = 'pending' ORDER BY id LIMIT 25")]
    html = _confirm(client, action="defer", ids=[str(i) for i in ids]).get_data(as_text=True)
    assert "type <strong>25</strong> to confirm" in html
    refused = _execute(client, html, typed_count="24")
    assert refused.status_code == 422
    assert _one(app, "SELECT count(*) AS n FROM tmdb_match_reviews WHERE status = 'deferred' AND id IN (%s)"
                % ",".join(map(str, ids)))["n"] == 0
    # extra ids in the form are ignored: only the signed selection counts
    done = _execute(client, html, typed_count="25", ids="999999")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Defer: 25 of 25 rows deferred; 0 skipped." in page
    assert _one(app, "SELECT count(*) AS n FROM tmdb_match_reviews WHERE status = 'deferred' AND id IN (%s)"
                % ",".join(map(str, ids)))["n"] == 25
    tampered = client.post(QUEUE + "execute/", data={
        "csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1),
        "token": "eyJhY3Rpb24iOiJhcHBseSJ9.forged", "typed_count": "25"})
    assert tampered.status_code == 400


def test_actions_without_csrf_are_refused(app, client):
    review = _applicable(app)
    response = client.post(QUEUE + "confirm/", data={"row_action": f"apply:{review['id']}"})
    assert response.status_code == 400
    assert client.post(QUEUE + "execute/", data={"token": "x"}).status_code == 400


def test_two_operators_apply_the_same_review_once(make_app):
    app = make_app()
    review = _applicable(app)
    clients = [app.test_client(), app.test_client()]
    pages = [_confirm(c, row_action=f"apply:{review['id']}").get_data(as_text=True) for c in clients]
    barrier = threading.Barrier(2)
    results = []

    def act(client, html):
        barrier.wait()
        response = _execute(client, html, reason="race")
        results.append(client.get(response.headers["Location"]).get_data(as_text=True))

    threads = [threading.Thread(target=act, args=pair) for pair in zip(clients, pages)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum("1 of 1 row applied" in page for page in results) == 1
    assert sum("is already applied by local" in page for page in results) == 1
    audited = _sql(app, "SELECT count(*) AS n FROM backoffice_audit_events WHERE entity_type = 'tmdb_match_reviews' "
                        "AND entity_id = :i", i=str(review["id"]))
    assert audited[0]["n"] == 1


def test_viewer_sees_no_action_controls_and_gets_404_on_post(make_app, tmp_path):
    from werkzeug.security import generate_password_hash

    users = tmp_path / "users.txt"
    users.write_text(f"vera:viewer:{generate_password_hash('vera-pass')}\n"
                     f"otto:operator:{generate_password_hash('otto-pass')}\n")
    app = make_app(OPERATOR_AUTH_USERS_FILE=str(users))
    import base64

    def auth(user, password):
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    client = app.test_client()
    html = client.get(QUEUE, headers=auth("vera", "vera-pass")).get_data(as_text=True)
    assert "queue-table" in html and 'name="row_action"' not in html and "With selected" not in html
    review = _applicable(app)
    for path in ("confirm/", "execute/"):
        refused = client.post(QUEUE + path, data={"row_action": f"apply:{review['id']}"},
                              headers=auth("vera", "vera-pass"))
        assert refused.status_code == 404
    html = client.get(QUEUE, headers=auth("otto", "otto-pass")).get_data(as_text=True)
    assert 'name="row_action" value="apply:' in html and "With selected" in html
    assert _one(app, "SELECT status FROM tmdb_match_reviews WHERE id = :i", i=review["id"])["status"] == "pending"
