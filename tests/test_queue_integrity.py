"""The queue owns what it decides: no generic screen or script can decide for it, a
deferred sibling cannot be applied after another, and two concurrent applies for one
movie end with exactly one applied, never a deadlock (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import html
import re
import threading

import pytest
from sqlalchemy import select, text

from audit_hooks import AuditError
from backoffice.core.access import Operator
from queues import QueueRunner, queue_specs
from models.own import audit_events

from tests.conftest import csrf_token, outside_sql

ANA, BO = Operator("ana", "operator"), Operator("bo", "operator")
_BASE_TMDB = 9_000_000


def _movie_with_reviews(app, states, offset=0):
    """A movie without tmdb_id and fresh reviews of it in ``states``; returns (movie id, review ids)."""
    movie = outside_sql(app, "SELECT id FROM movies WHERE tmdb_id IS NULL ORDER BY id LIMIT 1 OFFSET :o",
                        o=offset)[0]["id"]
    outside_sql(app, "DELETE FROM tmdb_match_reviews WHERE movie_id = :m", m=movie)
    now = dt.datetime.now(dt.timezone.utc)
    ids = []
    for n, state in enumerate(states):
        review_id = 900_000 + offset * 10 + n
        outside_sql(app, "INSERT INTO tmdb_match_reviews (id, movie_id, candidate_tmdb_id, candidate_title, "
                         "match_score, status, created_at, updated_at) VALUES (:i, :m, :c, 'Candidate', 0.9, :s, :t, :t)",
                    i=review_id, m=movie, c=_BASE_TMDB + offset * 10 + n, s=state, t=now)
        ids.append(review_id)
    return movie, ids


def _runner(app):
    reflection = app.extensions["backoffice.reflection"]
    [queue] = queue_specs(app.extensions["backoffice.declarations"], reflection)
    return QueueRunner(queue, app.extensions["backoffice.db"], reflection), queue


def _states(app, ids):
    rows = outside_sql(app, "SELECT id, status FROM tmdb_match_reviews WHERE id IN ({})".format(
        ",".join(str(i) for i in ids)))
    return {r["id"]: r["status"] for r in rows}


def test_the_generic_screens_show_queue_owned_columns_read_only(app, client):
    movie, [review] = _movie_with_reviews(app, ["pending"])
    form = client.get(f"/admin/tmdb_match_reviews/edit/?id={review}").get_data(as_text=True)
    for column in ("status", "decided_by", "decided_at", "decision_note"):
        assert f'name="{column}"' not in form
    assert 'name="candidate_title"' in form
    assert 'name="tmdb_id"' not in client.get(f"/admin/movies/edit/?id={movie}").get_data(as_text=True)
    token = csrf_token(client, f"/admin/tmdb_match_reviews/edit/?id={review}")
    fields = {name: html.unescape(value) for name, value in re.findall(
        r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', form) if not name.startswith("_")}
    fields.update({"csrf_token": token, "candidate_title": "Renamed", "status": "applied", "movie": str(movie),
                   "decided_by": "mallory"})
    response = client.post(f"/admin/tmdb_match_reviews/edit/?id={review}", data=fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    [row] = outside_sql(app, "SELECT status, candidate_title FROM tmdb_match_reviews WHERE id = :i", i=review)
    assert (row["status"], row["candidate_title"]) == ("pending", "Renamed")
    inline = client.post("/admin/tmdb_match_reviews/ajax/update/",
                         data={"csrf_token": token, "list_form_pk": str(review), "status": "applied"})
    assert inline.status_code >= 400
    assert _states(app, [review]) == {review: "pending"}


@pytest.mark.parametrize("column, value", [("status", "applied"), ("decided_by", "mallory")])
def test_any_other_write_to_an_owned_column_is_refused_with_its_reason(app, column, value):
    _movie, [review] = _movie_with_reviews(app, ["pending"])
    Review = app.extensions["backoffice.reflection"].tables["tmdb_match_reviews"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        setattr(db.session.get(Review, review), column, value)
        with pytest.raises(AuditError, match=rf"tmdb_match_reviews\.{column} of #{review} is set only by the "
                                             r"TMDB match review queue's actions"):
            db.session.commit()
        db.session.rollback()
    assert _states(app, [review]) == {review: "pending"}


def test_a_movie_tmdb_id_changes_only_through_apply(app):
    movie, _ = _movie_with_reviews(app, ["pending"])
    Movie = app.extensions["backoffice.reflection"].tables["movies"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        db.session.get(Movie, movie).tmdb_id = _BASE_TMDB + 999
        with pytest.raises(AuditError, match="changed only by the TMDB match review queue's apply action"):
            db.session.commit()
        db.session.rollback()


def test_applying_closes_deferred_siblings_and_a_second_apply_names_the_first(app):
    runner, queue = _runner(app)
    movie, (first, deferred, pending) = _movie_with_reviews(app, ["pending", "deferred", "pending"])
    with app.test_request_context():
        outcome = runner.perform(queue.actions["apply"], [str(first)], ANA, None)
        assert outcome.done == 1, outcome.rows
        assert _states(app, [first, deferred, pending]) == {first: "applied", deferred: "rejected",
                                                            pending: "rejected"}
        # even reopened by hand in the database, the sibling cannot become a second "applied"
        outside_sql(app, "UPDATE tmdb_match_reviews SET status = 'deferred' WHERE id = :i", i=deferred)
        second = runner.perform(queue.actions["apply"], [str(deferred)], BO, None)
    assert second.done == 0
    assert f"#{first} of the same movies row (movie_id {movie}) was already applied by ana" in second.rows[0].message
    [row] = outside_sql(app, "SELECT tmdb_id FROM movies WHERE id = :m", m=movie)
    assert row["tmdb_id"] == _BASE_TMDB
    applied = outside_sql(app, "SELECT count(*) AS n FROM tmdb_match_reviews WHERE movie_id = :m AND status = 'applied'",
                          m=movie)
    assert applied[0]["n"] == 1


TRIALS = 20


@pytest.mark.slow
def test_concurrent_applies_for_one_movie_end_with_one_applied_never_a_deadlock(app):
    runner, queue = _runner(app)
    apply = queue.actions["apply"]
    for trial in range(TRIALS):
        movie, (one, two) = _movie_with_reviews(app, ["pending", "deferred" if trial % 2 else "pending"], trial)
        barrier = threading.Barrier(2)
        results: dict[int, object] = {}

        def work(review, operator):
            try:
                with app.test_request_context():
                    barrier.wait()
                    results[review] = runner.perform(apply, [str(review)], operator, None).rows[0]
                    app.extensions["backoffice.db"].session.remove()
            except BaseException as exc:  # reported by the assertion below
                results[review] = exc

        threads = [threading.Thread(target=work, args=(one, ANA)), threading.Thread(target=work, args=(two, BO))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcomes = [results[one], results[two]]
        assert all(not isinstance(o, BaseException) for o in outcomes), outcomes
        done = [o for o in outcomes if o.done]
        refused = [o for o in outcomes if not o.done]
        assert len(done) == 1 and len(refused) == 1, (trial, outcomes)
        winner = done[0].id
        assert f"#{winner} of the same movies row (movie_id {movie}) was already applied" in refused[0].message, \
            (trial, refused[0].message)
        assert "deadlock" not in refused[0].message
        [row] = outside_sql(app, "SELECT tmdb_id FROM movies WHERE id = :m", m=movie)
        assert row["tmdb_id"] == _BASE_TMDB + trial * 10 + (0 if int(winner) == one else 1)
    with app.app_context():
        applies = app.extensions["backoffice.db"].session.execute(
            select(audit_events.c.entity_id).where(audit_events.c.action == "review.apply",
                                                   audit_events.c.entity_type == "movies")).scalars().all()
    assert len(applies) == TRIALS
