"""What the generated screens say and show: flash wording, empty states, values, menu."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import create_engine, text

from backoffice.core.settings import normalise_database_url
from views.ux import relative_time, shown_flashes, utc_text

from tests.conftest import csrf_token, outside_sql

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)


def _flashes(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip() for m in
            re.findall(r'<div class="alert alert-\w+ alert-dismissable">.*?</button>(.*?)</div>', html, re.S)]


def test_relative_time_reads_like_a_person_would_say_it():
    assert relative_time(NOW - dt.timedelta(seconds=20), NOW) == "just now"
    assert relative_time(NOW - dt.timedelta(minutes=1), NOW) == "1 minute ago"
    assert relative_time(NOW - dt.timedelta(hours=5, minutes=59), NOW) == "5 hours ago"
    assert relative_time(NOW - dt.timedelta(days=3, hours=2), NOW) == "3 days ago"
    assert relative_time(NOW - dt.timedelta(days=400), NOW) == "1 year ago"
    assert relative_time(NOW + dt.timedelta(days=2, minutes=1), NOW) == "in 2 days"
    # naive values are UTC; aware ones are converted, not relabelled
    assert relative_time(dt.datetime(2026, 6, 15, 10, 0), NOW) == "2 hours ago"
    paris = dt.timezone(dt.timedelta(hours=2))
    assert relative_time(dt.datetime(2026, 6, 15, 13, 0, tzinfo=paris), NOW) == "1 hour ago"
    assert utc_text(dt.datetime(2026, 6, 15, 13, 0, tzinfo=paris)) == "2026-06-15 11:00:00 UTC"
    assert utc_text(dt.datetime(2022, 1, 25, 10, 0, 0, 500000)) == "2022-01-25 10:00:00.500000 UTC"


def test_create_edit_and_delete_say_what_happened_to_how_many_rows(client, app):
    token = csrf_token(client, "/admin/genres/new/")
    created = client.post("/admin/genres/new/", data={"csrf_token": token, "name": "Film noir", "tmdb_genre_id": "9001"},
                          follow_redirects=True)
    new_id = outside_sql(app, "SELECT id FROM genres WHERE name = 'Film noir'")[0]["id"]
    message = " ".join(_flashes(created.get_data(as_text=True)))
    assert "Created 1 row in genres: " in message and f"#{new_id}" in message
    assert "successfully" not in message  # in place of Flask-Admin's message, not beside it

    edit_url = f"/admin/genres/edit/?id={new_id}"
    token = csrf_token(client, edit_url)
    saved = client.post(edit_url, data={"csrf_token": token, "name": "Noir", "tmdb_genre_id": "9001"},
                        follow_redirects=True)
    message = " ".join(_flashes(saved.get_data(as_text=True)))
    assert "Saved 1 row of genres: " in message and f"#{new_id}" in message
    assert "1 field changed (name)" in message

    token = csrf_token(client, edit_url)
    same = client.post(edit_url, data={"csrf_token": token, "name": "Noir", "tmdb_genre_id": "9001"},
                       follow_redirects=True)
    message = " ".join(_flashes(same.get_data(as_text=True)))
    assert "Nothing to save in genres: " in message and f"#{new_id}" in message and "is unchanged" in message

    token = csrf_token(client, f"/admin/genres/details/?id={new_id}")
    deleted = client.post("/admin/genres/delete/", data={"csrf_token": token, "id": str(new_id),
                                                         "audit_reason": "typo"}, follow_redirects=True)
    message = " ".join(_flashes(deleted.get_data(as_text=True)))
    assert "Deleted 1 row from genres: " in message and f"#{new_id}" in message
    assert "successfully" not in message
    assert not outside_sql(app, "SELECT id FROM genres WHERE id = :id", id=new_id)


def test_a_refused_form_says_nothing_was_saved_and_names_the_fields(client, app):
    url = "/admin/movies/edit/?id=3"
    token = csrf_token(client, url)
    response = client.post(url, data={"csrf_token": token, "title": "Kept title", "release_date": "2001-02-31",
                                      "created_at": "not a time", "updated_at": "2023-01-01 00:00:00"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422  # the form again, with its errors
    messages = " ".join(_flashes(html))
    assert "nothing was saved: 2 fields need attention (release date, created at)" in messages.lower()
    assert "Failed to save record." not in messages
    assert 'value="Kept title"' in html and 'value="2001-02-31"' in html
    assert outside_sql(app, "SELECT title FROM movies WHERE id = 3")[0]["title"] != "Kept title"


def test_lists_cut_long_text_show_utc_times_and_status_badges(client, app):
    long_text = "word " * 40
    outside_sql(app, "UPDATE movies SET title = :text WHERE id = 1", text=long_text)
    html = client.get("/admin/movies/?page=0").get_data(as_text=True)
    cell = re.search(r'<td class="col-title">\s*(.*?)\s*</td>', html, re.S).group(1)
    assert f'title="{long_text}"' in cell and "…" in cell and len(re.sub(r"<[^>]+>", "", cell).strip()) <= 80
    assert re.search(r'<time class="backoffice-time" datetime="[^"]+\+00:00" title="[^"]+ UTC">[^<]+ UTC</time> '
                     r'<small class="text-muted backoffice-ago">[^<]*(ago|just now|in )', html)

    details = client.get("/admin/movies/details/?id=1").get_data(as_text=True)
    assert long_text.strip() in details and "backoffice-truncated" not in details

    reviews = client.get("/admin/tmdb_match_reviews/").get_data(as_text=True)
    assert re.search(r'<span class="badge badge-(warning|success|info|secondary) backoffice-status">'
                     r'(pending|applied|deferred|rejected)</span>', reviews)


def test_empty_lists_say_what_to_do(client, app, db_url):
    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    engine.dispose()
    from console.app import create_app

    fresh = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"}).test_client()
    html = fresh.get("/admin/notes/").get_data(as_text=True)
    assert "notes has no rows yet." in html
    assert "Create the first row" in html and "/admin/notes/new/" in html

    past = client.get("/admin/genres/?page=40").get_data(as_text=True)
    assert "This page is past the last row." in past and "Go to the first page" in past


def test_menu_groups_follow_the_operators_day(client):
    html = client.get("/admin/").get_data(as_text=True)
    groups = [g.strip() for g in re.findall(r'<summary class="backoffice-nav-group-name">(.*?)</summary>', html, re.S)]
    assert groups[-1] == "Schema"
    known = [g for g in groups if g in ("Catalog", "Reviews", "Audit")]
    assert known == sorted(known, key=("Catalog", "Reviews", "Audit").index)
    assert {"Reviews", "Audit"} <= set(known)
    assert html.index("Dashboard</a>") < html.index('class="backoffice-nav-group-name"')


def test_a_bulk_delete_names_the_table_and_counts_the_rows(client, app):
    for name in ("Spare one", "Spare two"):
        token = csrf_token(client, "/admin/genres/new/")
        client.post("/admin/genres/new/", data={"csrf_token": token, "name": name, "tmdb_genre_id": "9100"})
    ids = [str(r["id"]) for r in outside_sql(app, "SELECT id FROM genres WHERE name LIKE 'Spare %' ORDER BY id")]
    token = csrf_token(client, "/admin/genres/")
    confirm = client.post("/admin/genres/action/", data={"csrf_token": token, "action": "delete", "rowid": ids},
                          follow_redirects=True)
    html = confirm.get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    done = client.post("/admin/genres/bulk-delete/", data={"csrf_token": token, "id": ids, "reason": "duplicates",
                                                           "url": "/admin/genres/"}, follow_redirects=True)
    message = " ".join(_flashes(done.get_data(as_text=True)))
    assert "Deleted 2 rows from genres: " in message and all(f"#{i}" in message for i in ids)
    assert not outside_sql(app, "SELECT id FROM genres WHERE name LIKE 'Spare %'")


def test_a_specific_flash_takes_the_place_of_the_next_generic_one_of_its_category_only():
    instead = "instead-of-next:success"
    assert shown_flashes([(instead, "Saved 1 row"), ("success", "Record was successfully saved.")]) == [
        ("success", "Saved 1 row")]
    # a different category next, or nothing next: nothing is dropped
    assert shown_flashes([(instead, "Saved 1 row"), ("error", "Disk full")]) == [
        ("success", "Saved 1 row"), ("error", "Disk full")]
    assert shown_flashes([("message", "a"), (instead, "b")]) == [("message", "a"), ("success", "b")]
    # only the one message right after
    assert shown_flashes([(instead, "b"), ("success", "generic"), ("success", "other")]) == [
        ("success", "b"), ("success", "other")]
