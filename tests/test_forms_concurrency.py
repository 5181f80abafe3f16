"""Double submissions change data once; an edit based on a stale row is refused."""
import re
import threading

from tests.conftest import csrf_token, outside_sql

STAMPS = {"created_at": "2024-01-01 00:00:00", "updated_at": "2024-01-01 00:00:00"}
QUEUE = "/admin/review-queue/"


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html) or \
        re.search(rf'id="{name}" name="{name}" type="hidden" value="([^"]*)"', html) or \
        re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no hidden {name} in the form"
    return match.group(1)


def _count(app, sql, **params):
    return outside_sql(app, sql, **params)[0]["n"]


def _create_form(client):
    html = client.get("/admin/genres/new/").get_data(as_text=True)
    return {"csrf_token": _hidden(html, "csrf_token"), "form_nonce": _hidden(html, "form_nonce")}


# -- double submission of a create form ----------------------------------------------------
def test_the_same_create_form_submitted_twice_creates_one_row(app, client):
    form = {**_create_form(client), "name": "Film noir revival"}
    assert len(form["form_nonce"]) >= 20
    first = client.post("/admin/genres/new/", data=form)
    assert first.status_code == 302
    second = client.post("/admin/genres/new/", data=form)
    assert second.status_code == 422
    assert "already submitted" in second.get_data(as_text=True)
    assert _count(app, "SELECT count(*) AS n FROM genres WHERE name = 'Film noir revival'") == 1
    assert _count(app, "SELECT count(*) AS n FROM backoffice_audit_events WHERE entity_type = 'genres' "
                       "AND action = 'create'") == 1
    assert _count(app, "SELECT count(*) AS n FROM backoffice_submissions WHERE nonce = :n", n=form["form_nonce"]) == 1


def test_a_fresh_form_creates_again_and_a_refused_save_does_not_burn_the_nonce(app, client):
    form = {**_create_form(client), "name": ""}  # refused by validation: nothing recorded
    assert client.post("/admin/genres/new/", data=form).status_code == 422
    assert _count(app, "SELECT count(*) AS n FROM backoffice_submissions") == 0
    assert client.post("/admin/genres/new/", data={**form, "name": "Mumblecore"}).status_code == 302
    again = {**_create_form(client), "name": "Mumblecore"}
    assert client.post("/admin/genres/new/", data=again).status_code == 302
    assert _count(app, "SELECT count(*) AS n FROM genres WHERE name = 'Mumblecore'") == 2


def test_concurrent_double_submission_creates_one_row(make_app):
    app = make_app()
    clients = [app.test_client(), app.test_client()]
    form = {**_create_form(clients[0]), "name": "Race genre"}
    clients[1].set_cookie("session", clients[0].get_cookie("session").value)  # one browser, two tabs' resend
    barrier, statuses = threading.Barrier(2), []

    def submit(client):
        barrier.wait()
        statuses.append(client.post("/admin/genres/new/", data=form).status_code)

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [302, 422]
    assert _count(app, "SELECT count(*) AS n FROM genres WHERE name = 'Race genre'") == 1
    assert _count(app, "SELECT count(*) AS n FROM backoffice_audit_events WHERE entity_type = 'genres'") == 1


def test_a_submission_failing_after_the_nonce_rolls_the_nonce_back(make_app):
    """The nonce row and the new row share a transaction: a refused write leaves neither."""
    app = make_app()
    client = app.test_client()
    # movies.tmdb_id belongs to the review queue (not in the generic form): people's key is unique too
    html = client.get("/admin/people/new/").get_data(as_text=True)
    taken = outside_sql(app, "SELECT tmdb_person_id FROM people WHERE tmdb_person_id IS NOT NULL LIMIT 1")
    form = {"csrf_token": _hidden(html, "csrf_token"), "form_nonce": _hidden(html, "form_nonce"),
            "name": "Dup", "tmdb_person_id": str(taken[0]["tmdb_person_id"])}
    refused = client.post("/admin/people/new/", data=form)  # tmdb_person_id is unique: the database refuses
    assert refused.status_code == 422
    assert _count(app, "SELECT count(*) AS n FROM backoffice_submissions") == 0
    assert _count(app, "SELECT count(*) AS n FROM people WHERE name = 'Dup'") == 0
    form["tmdb_person_id"] = ""
    assert client.post("/admin/people/new/", data=form).status_code == 302  # same page, fixed: accepted
    assert _count(app, "SELECT count(*) AS n FROM backoffice_submissions") == 1


# -- stale edits ---------------------------------------------------------------------------
def _edit_form(client, genre_id):
    html = client.get(f"/admin/genres/edit/?id={genre_id}").get_data(as_text=True)
    return {"csrf_token": _hidden(html, "csrf_token"), "row_version": _hidden(html, "row_version"),
            "name": _hidden(html, "name") if 'type="hidden"' in html and 'name="name" type="hidden"' in html
            else re.search(r'name="name"[^>]*value="([^"]*)"', html).group(1)}


def test_an_edit_based_on_a_stale_row_is_refused(app):
    alice, bob = app.test_client(), app.test_client()
    genre = outside_sql(app, "SELECT id, name FROM genres ORDER BY id LIMIT 1")[0]
    seen_by_alice = _edit_form(alice, genre["id"])
    seen_by_bob = _edit_form(bob, genre["id"])
    assert seen_by_alice["row_version"] == seen_by_bob["row_version"]

    saved = bob.post(f"/admin/genres/edit/?id={genre['id']}", data={**seen_by_bob, "name": "Bob's name"})
    assert saved.status_code == 302
    refused = alice.post(f"/admin/genres/edit/?id={genre['id']}", data={**seen_by_alice, "name": "Alice's name"})
    assert refused.status_code == 422
    assert "Someone else saved this record after you opened it" in refused.get_data(as_text=True)
    assert outside_sql(app, "SELECT name FROM genres WHERE id = :i", i=genre["id"])[0]["name"] == "Bob's name"
    assert _count(app, "SELECT count(*) AS n FROM backoffice_audit_events WHERE entity_type = 'genres' "
                       "AND entity_id = :i", i=str(genre["id"])) == 1

    fresh = _edit_form(alice, genre["id"])  # reloaded: her change now goes through
    assert alice.post(f"/admin/genres/edit/?id={genre['id']}", data={**fresh, "name": "Alice's name"}).status_code == 302
    assert outside_sql(app, "SELECT name FROM genres WHERE id = :i", i=genre["id"])[0]["name"] == "Alice's name"


def test_a_change_made_outside_the_console_also_makes_the_form_stale(app, client):
    genre = outside_sql(app, "SELECT id FROM genres ORDER BY id LIMIT 1")[0]["id"]
    form = _edit_form(client, genre)
    outside_sql(app, "UPDATE genres SET tmdb_genre_id = 424242 WHERE id = :i", i=genre)
    refused = client.post(f"/admin/genres/edit/?id={genre}", data={**form, "name": "Mine"})
    assert refused.status_code == 422
    assert outside_sql(app, "SELECT name FROM genres WHERE id = :i", i=genre)[0]["name"] != "Mine"


def test_an_edit_of_a_row_deleted_meanwhile_is_refused(app, client):
    token = csrf_token(client, "/admin/genres/new/")
    assert client.post("/admin/genres/new/", data={"csrf_token": token, "name": "Short-lived"}).status_code == 302
    genre = outside_sql(app, "SELECT id FROM genres WHERE name = 'Short-lived'")[0]["id"]
    form = _edit_form(client, genre)
    outside_sql(app, "DELETE FROM genres WHERE id = :i", i=genre)
    response = client.post(f"/admin/genres/edit/?id={genre}", data={**form, "name": "Back"})
    assert response.status_code in (302, 404, 422)  # Flask-Admin redirects a missing record to the list
    assert _count(app, "SELECT count(*) AS n FROM genres WHERE id = :i", i=genre) == 0


def test_an_unchanged_row_saves_normally(app, client):
    genre = outside_sql(app, "SELECT id FROM genres ORDER BY id LIMIT 1")[0]["id"]
    form = _edit_form(client, genre)
    assert client.post(f"/admin/genres/edit/?id={genre}", data={**form, "name": "Renamed"}).status_code == 302
    assert outside_sql(app, "SELECT name FROM genres WHERE id = :i", i=genre)[0]["name"] == "Renamed"


# -- the review queue ----------------------------------------------------------------------
def test_review_execute_submitted_twice_changes_data_once(app, client):
    review = outside_sql(app, "SELECT id FROM tmdb_match_reviews WHERE status = 'pending' ORDER BY id LIMIT 1")[0]
    token = csrf_token(client, QUEUE)
    html = client.post(QUEUE + "confirm/", data={"csrf_token": token, "row_action": f"defer:{review['id']}"}) \
        .get_data(as_text=True)
    form = {"csrf_token": _hidden(html, "csrf_token"), "token": re.search(r'name="token" value="([^"]+)"', html)
            .group(1), "reason": "twice"}
    first = client.post(QUEUE + "execute/", data=form)
    assert "1 of 1 row deferred" in client.get(first.headers["Location"]).get_data(as_text=True)
    second = client.post(QUEUE + "execute/", data=form)
    assert "0 of 1 row deferred; 1 skipped" in client.get(second.headers["Location"]).get_data(as_text=True)
    assert _count(app, "SELECT count(*) AS n FROM backoffice_audit_events WHERE entity_type = 'tmdb_match_reviews' "
                       "AND entity_id = :i", i=str(review["id"])) == 1
