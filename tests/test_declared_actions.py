"""Declared row actions ([views.<table>.actions.<name>]): checked against the schema, run
through a signed confirm -> execute flow, one audited transaction per row, refused to roles
below the action's (404), with a typed count above the threshold and typed values checked."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from console.cli import main
from tests.auth_helpers import basic, write_users
from tests.conftest import csrf_token, outside_sql

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = str(ROOT / "backoffice" / "demo" / "demo.toml")
DEMO_ACTION = "declared:needs_tmdb_resync"


def _write(tmp_path: Path, toml: str) -> str:
    path = tmp_path / "actions.toml"
    path.write_text(textwrap.dedent(toml), encoding="utf-8")
    return str(path)


def _synced(app, n: int) -> list[int]:
    rows = outside_sql(app, "SELECT id FROM movies WHERE tmdb_synced_at IS NOT NULL ORDER BY id LIMIT :n", n=n)
    assert len(rows) == n
    return [r["id"] for r in rows]


def _csrf(client, url: str, headers) -> str:
    html = client.get(url, headers=headers).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _confirm(client, screen: str, action: str, ids, headers=None):
    token = csrf_token(client, f"/admin/{screen}/") if headers is None else \
        _csrf(client, f"/admin/{screen}/edit/?id={ids[0]}", headers)
    return client.post(f"/admin/{screen}/action/", headers=headers or {},
                       data={"csrf_token": token, "action": action, "rowid": [str(i) for i in ids]})


def _signed(html: str) -> dict[str, str]:
    return {"csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1),
            "token": re.search(r'name="token" value="([^"]+)"', html).group(1)}


def test_the_demo_action_clears_the_sync_row_by_row_with_audit_rows(make_app):
    app = make_app(BACKOFFICE_CONFIG=DEMO_CONFIG)
    client = app.test_client()
    assert "Mark as needing a TMDB re-sync" in client.get("/admin/movies/").get_data(as_text=True)
    ids = _synced(app, 3)
    page = _confirm(client, "movies", DEMO_ACTION, ids)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Nothing has changed yet" in html and html.count("tmdb_synced_at: <code>") == 3
    form = _signed(html)
    missing_reason = client.post("/admin/movies/declared-action/", data=form)
    assert missing_reason.status_code == 422 and "A reason is required" in missing_reason.get_data(as_text=True)
    assert outside_sql(app, "SELECT count(*) AS n FROM movies WHERE tmdb_synced_at IS NULL AND id IN "
                            f"({','.join(map(str, ids))})")[0]["n"] == 0
    done = client.post("/admin/movies/declared-action/", data={**form, "reason": "posters changed upstream"})
    assert done.status_code == 302
    assert "3 of 3 rows changed; 0 skipped" in client.get(done.headers["Location"]).get_data(as_text=True)
    after = outside_sql(app, f"SELECT tmdb_synced_at FROM movies WHERE id IN ({','.join(map(str, ids))})")
    assert [r["tmdb_synced_at"] for r in after] == [None, None, None]
    events = outside_sql(app, "SELECT entity_type, entity_id, changes, reason, actor, request_id "
                              "FROM backoffice_audit_events WHERE action = 'action.needs_tmdb_resync' ORDER BY id")
    assert [(e["entity_type"], e["entity_id"]) for e in events] == [("movies", str(i)) for i in ids]
    assert {e["reason"] for e in events} == {"posters changed upstream"}
    assert len({e["request_id"] for e in events}) == 1
    changes = events[0]["changes"] if isinstance(events[0]["changes"], dict) else json.loads(events[0]["changes"])
    assert changes["old"]["tmdb_synced_at"] is not None and changes["new"]["tmdb_synced_at"] is None
    # the same signed confirmation cannot be replayed into something else: the token is bound to action and ids
    forged = dict(form, token=form["token"][:-2] + ("AA" if not form["token"].endswith("AA") else "BB"))
    assert client.post("/admin/movies/declared-action/", data={**forged, "reason": "x"}).status_code == 400


def test_more_rows_than_the_threshold_need_the_typed_count(make_app):
    app = make_app(BACKOFFICE_CONFIG=DEMO_CONFIG)
    client = app.test_client()
    ids = _synced(app, 21)  # the demo action asks for the count above 20
    html = _confirm(client, "movies", DEMO_ACTION, ids).get_data(as_text=True)
    assert "type <strong>21</strong> to confirm" in html
    form = {**_signed(html), "reason": "bulk re-sync"}
    for wrong in ("", "20", "twenty-one"):
        refused = client.post("/admin/movies/declared-action/", data={**form, "typed_count": wrong})
        assert refused.status_code == 422 and "Type the number of rows (21)" in refused.get_data(as_text=True)
    assert outside_sql(app, "SELECT count(*) AS n FROM backoffice_audit_events "
                            "WHERE action = 'action.needs_tmdb_resync'")[0]["n"] == 0
    done = client.post("/admin/movies/declared-action/", data={**form, "typed_count": "21"})
    assert done.status_code == 302
    assert outside_sql(app, f"SELECT count(*) AS n FROM movies WHERE tmdb_synced_at IS NULL "
                            f"AND id IN ({','.join(map(str, ids))})")[0]["n"] == 21


ASKED = '''
    [views.movies.actions.set_runtime]
    label = "Set runtime"
    set = { runtime_minutes = { ask = "Runtime in minutes" }, tmdb_synced_at = "now()" }
    reason = "none"
    confirm_over = 5
    confirm_text = "RUNTIME"
'''


def test_typed_values_are_checked_and_forged_fields_change_nothing(make_app, tmp_path):
    app = make_app(BACKOFFICE_CONFIG=_write(tmp_path, ASKED))
    client = app.test_client()
    ids = _synced(app, 2)
    before = outside_sql(app, f"SELECT id, title, runtime_minutes FROM movies WHERE id IN ({ids[0]}, {ids[1]}) ORDER BY id")
    html = _confirm(client, "movies", "declared:set_runtime", ids).get_data(as_text=True)
    form = {**_signed(html), "typed_text": "RUNTIME"}
    for bad in ("ninety", "1e3", "90; DROP TABLE movies", ""):
        refused = client.post("/admin/movies/declared-action/", data={**form, "value_runtime_minutes": bad})
        text = refused.get_data(as_text=True)
        assert refused.status_code == 422 and "runtime_minutes takes a whole number" in text
    wrong_word = client.post("/admin/movies/declared-action/", data={**form, "typed_text": "runtime",
                                                                    "value_runtime_minutes": "90"})
    assert wrong_word.status_code == 422 and "Type RUNTIME to confirm" in wrong_word.get_data(as_text=True)
    # a column the action does not ask for, and another action's name, are ignored: the token decides
    done = client.post("/admin/movies/declared-action/", data={**form, "value_runtime_minutes": "90",
                                                               "value_title": "Hacked", "action": "delete"})
    assert done.status_code == 302
    after = outside_sql(app, f"SELECT id, title, runtime_minutes, tmdb_synced_at FROM movies "
                             f"WHERE id IN ({ids[0]}, {ids[1]}) ORDER BY id")
    assert [r["title"] for r in after] == [r["title"] for r in before]
    assert [r["runtime_minutes"] for r in after] == [90, 90]
    assert outside_sql(app, "SELECT count(*) AS n FROM backoffice_audit_events "
                            "WHERE action = 'action.set_runtime'")[0]["n"] == 2


def test_a_role_below_the_action_gets_a_missing_page(make_app, tmp_path):
    users = write_users(tmp_path / "users.txt", {"vera": ("viewer", "vera-pass"), "otto": ("operator", "otto-pass"),
                                                 "ann": ("admin", "ann-pass")})
    config = _write(tmp_path, '''
        [views.movies.actions.resync]
        label = "Admins only re-sync"
        set = { tmdb_synced_at = "null()" }
        role = "admin"
    ''')
    app = make_app(BACKOFFICE_CONFIG=config, OPERATOR_AUTH_USERS_FILE=str(users))
    client = app.test_client()
    ids = _synced(app, 1)
    otto, ann = basic("otto", "otto-pass"), basic("ann", "ann-pass")
    assert "Admins only re-sync" not in client.get("/admin/movies/", headers=otto).get_data(as_text=True)
    assert _confirm(client, "movies", "declared:resync", ids, headers=otto).status_code == 404
    html = _confirm(client, "movies", "declared:resync", ids, headers=ann).get_data(as_text=True)
    form = _signed(html)  # a real confirmation an admin got, replayed by an operator
    otto_csrf = _csrf(client, f"/admin/movies/edit/?id={ids[0]}", otto)
    refused = client.post("/admin/movies/declared-action/", headers=otto, data={**form, "csrf_token": otto_csrf})
    assert refused.status_code == 404
    assert outside_sql(app, "SELECT tmdb_synced_at FROM movies WHERE id = :i", i=ids[0])[0]["tmdb_synced_at"]
    done = client.post("/admin/movies/declared-action/", headers=ann, data=form)
    assert done.status_code == 302
    assert outside_sql(app, "SELECT tmdb_synced_at FROM movies WHERE id = :i", i=ids[0])[0]["tmdb_synced_at"] is None


def test_check_refuses_values_columns_and_roles_an_action_cannot_have(sqlite_demo_url, tmp_path):
    config = _write(tmp_path, '''
        [views.movies.actions.bad]
        set = { runtime_minutes = "long", title = "null()", release_date = 3, id = 1, nosuch = 1, overview = "now()" }
        role = "boss"
        reason = "maybe"
        confirm_over = -1
        [views.movies.actions.typo]
        set = { title = "x" }
        colour = "red"
        [views.movies.actions."Bad Name"]
        set = { title = "x" }
        [views.movies.actions.empty]
        set = {}
        [views.movies.actions.fine]
        set = { runtime_minutes = 90, tmdb_synced_at = "now()", poster_path = { ask = "Poster path" } }
    ''')
    result = CliRunner().invoke(main, ["check"], env={"DATABASE_URL": sqlite_demo_url, "BACKOFFICE_CONFIG": config})
    assert result.exit_code == 1, result.output
    ids = sorted(re.findall(r"\[backoffice\.(E04\d|E012)\]", result.output))
    assert ids == ["E012", "E040", "E040", "E040", "E041", "E042", "E042", "E042", "E042", "E043", "E043", "E044"], \
        result.output
    assert "actions.fine" not in result.output
    assert "runtime_minutes takes a whole number" in result.output


def test_each_row_carries_its_own_button_to_the_same_signed_confirmation(make_app, tmp_path):
    users = write_users(tmp_path / "users.txt", {"otto": ("operator", "otto-pass"), "ann": ("admin", "ann-pass")})
    config = _write(tmp_path, '''
        [views.movies.actions.resync]
        label = "Admins only re-sync"
        set = { tmdb_synced_at = "null()" }
        role = "admin"
        reason = "required"
    ''')
    app = make_app(BACKOFFICE_CONFIG=config, OPERATOR_AUTH_USERS_FILE=str(users))
    client = app.test_client()
    [movie] = _synced(app, 1)
    otto, ann = basic("otto", "otto-pass"), basic("ann", "ann-pass")
    row_url = f"/admin/movies/declared-action/row/?action=resync&id={movie}"
    listing = client.get(f"/admin/movies/?flt0_0={movie}&page_size=100", headers=ann).get_data(as_text=True)
    assert row_url.replace("&", "&amp;") in listing  # the row's own button, with its own id
    assert 'title="Admins only re-sync"' in listing
    assert "declared-action/row/" not in client.get("/admin/movies/", headers=otto).get_data(as_text=True)
    assert client.get(row_url, headers=otto).status_code == 404  # a role below: a missing page
    assert client.get(row_url.replace("resync", "nosuch"), headers=ann).status_code == 404
    page = client.get(row_url, headers=ann)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Admins only re-sync: 1 row" in html
    assert outside_sql(app, "SELECT tmdb_synced_at FROM movies WHERE id = :i", i=movie)[0]["tmdb_synced_at"]
    form = _signed(html)
    refused = client.post("/admin/movies/declared-action/", headers=ann, data=form)  # no reason
    assert refused.status_code == 422
    done = client.post("/admin/movies/declared-action/", headers=ann, data={**form, "reason": "poster changed"})
    assert done.status_code == 302
    assert outside_sql(app, "SELECT tmdb_synced_at FROM movies WHERE id = :i", i=movie)[0]["tmdb_synced_at"] is None
    [event] = outside_sql(app, "SELECT entity_id, actor, reason FROM backoffice_audit_events "
                               "WHERE action = 'action.resync'")
    assert (event["entity_id"], event["actor"], event["reason"]) == (str(movie), "ann", "poster changed")
