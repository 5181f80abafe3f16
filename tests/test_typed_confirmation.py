"""Typed delete confirmation ([views.<table>] confirm_delete = "label" | "key"): deleting one
row needs its label or key typed, several rows their number, on a page whose token is signed
over exactly the rows shown and expires. Forged posts (valid CSRF token) are refused with a
clear message and delete nothing; on SQLite and PostgreSQL (the ``db_url`` fixture)."""
from __future__ import annotations

import re
import textwrap
import time
import urllib.parse
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from audit_hooks import audit_action
from models.own import audit_events

from tests.conftest import outside_sql

CONFIG = """
[views.keywords]
confirm_delete = "label"
confirm_delete_seconds = 120
reason = { delete = "required" }

[views.genres]
confirm_delete = "key"
"""


@pytest.fixture
def app(make_app, tmp_path: Path):
    path = tmp_path / "typed.toml"
    path.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return make_app(BACKOFFICE_CONFIG=str(path))


def _rows(app, table: str, names: list[str]) -> list[int]:
    model = app.extensions["backoffice.reflection"].tables[table].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with audit_action("test.setup"):
            rows = [model(name=name) for name in names]
            db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def _left(app, table: str, ids: list[int]) -> int:
    return outside_sql(app, f"SELECT count(*) AS n FROM {table} WHERE id IN ({','.join(map(str, ids))})")[0]["n"]


def _deletes(app) -> list[dict]:
    with app.app_context():
        query = select(audit_events).where(audit_events.c.action == "delete").order_by(audit_events.c.id)
        return [dict(r) for r in app.extensions["backoffice.db"].session.execute(query).mappings()]


def _page(client, table: str, ids: list[int]) -> tuple[str, dict]:
    response = client.get(f"/admin/{table}/bulk-delete/?" + urllib.parse.urlencode({"id": ids}, doseq=True))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    form = {"csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1),
            "token": re.search(r'id="token" name="token" type="hidden" value="([^"]+)"', html).group(1),
            "id": [str(i) for i in ids], "url": f"/admin/{table}/"}
    return html, form


def _old_token(app, salt: str, ids: list[int], age: int) -> str:
    """A token as the server would have signed it ``age`` seconds ago (no sleeping)."""
    class _Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=salt, signer=_Earlier).dumps({"ids": [str(i) for i in ids]})


def test_a_single_delete_needs_the_rows_label_typed(app):
    [keyword] = _rows(app, "keywords", ["unwanted sequel tag"])
    client = app.test_client()
    html, form = _page(client, "keywords", [keyword])
    # the row's list button and the details form lead to this page too, whatever they post
    asked = client.post("/admin/keywords/delete/", data={"csrf_token": form["csrf_token"], "id": str(keyword),
                                                         "audit_reason": "typed on the details page"})
    assert asked.status_code == 200 and "Type unwanted sequel tag to confirm." in asked.get_data(as_text=True)
    assert "typed on the details page" in asked.get_data(as_text=True)  # the reason is kept
    assert _left(app, "keywords", [keyword]) == 1
    assert "Type unwanted sequel tag to confirm." in html
    wrong = client.post("/admin/keywords/bulk-delete/", data={**form, "reason": "noise", "typed": "unwanted"})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "The confirmation does not match; nothing was deleted." in text
    assert "noise" in text and 'value="unwanted"' in text  # what the operator typed stays on the page
    assert _left(app, "keywords", [keyword]) == 1 and _deletes(app) == []
    no_reason = client.post("/admin/keywords/bulk-delete/", data={**form, "typed": "unwanted sequel tag"})
    assert no_reason.status_code == 422 and "A reason is required to delete rows" in no_reason.get_data(as_text=True)
    assert _left(app, "keywords", [keyword]) == 1
    done = client.post("/admin/keywords/bulk-delete/", data={**form, "reason": "noise",
                                                             "typed": " unwanted sequel tag "})
    assert done.status_code == 302 and _left(app, "keywords", [keyword]) == 0
    [event] = _deletes(app)
    assert (event["entity_id"], event["reason"]) == (str(keyword), "noise")


def test_a_key_confirmation_needs_the_key_and_a_plain_delete_post_cannot_skip_it(app):
    [genre] = _rows(app, "genres", ["Spare genre"])
    client = app.test_client()
    html, form = _page(client, "genres", [genre])
    assert f"Type {genre} to confirm." in html
    skipped = client.post("/admin/genres/delete/", data={"csrf_token": form["csrf_token"], "id": str(genre)})
    assert skipped.status_code == 200 and _left(app, "genres", [genre]) == 1  # the page, not a delete
    assert client.post("/admin/genres/bulk-delete/", data={**form, "typed": "Spare genre"}).status_code == 422
    assert _left(app, "genres", [genre]) == 1
    assert client.post("/admin/genres/bulk-delete/", data={**form, "typed": str(genre)}).status_code == 302
    assert _left(app, "genres", [genre]) == 0


def test_forged_bulk_confirmations_are_refused_and_delete_nothing(app):
    ids = _rows(app, "keywords", ["spare one", "spare two", "spare three"])
    others = _rows(app, "keywords", ["other one", "other two", "other three"])
    client = app.test_client()
    html, form = _page(client, "keywords", ids)
    assert "Type the number of rows (3) to confirm." in html
    _other_html, other_form = _page(client, "keywords", others)
    _genre_html, genre_form = _page(client, "genres", _rows(app, "genres", ["g1", "g2", "g3"]))
    good = {**form, "typed": "3", "reason": "spam"}
    forged = {
        "no token": ({k: v for k, v in good.items() if k != "token"}, "The confirmation is missing"),
        "token of other rows": ({**good, "token": other_form["token"]}, "given for other rows"),
        "ids altered": ({**good, "id": [*good["id"][:2], str(others[0])]}, "given for other rows"),
        "ids added": ({**good, "id": [*good["id"], str(others[0])]}, "given for other rows"),
        "token of another screen": ({**good, "token": genre_form["token"]}, "not valid for this screen"),
        "token tampered": ({**good, "token": good["token"][:-3] + "xyz"}, "not valid for this screen"),
        "wrong count": ({**good, "typed": "4"}, "Type the number of rows (3) to confirm."),
        "expired": ({**good, "token": _old_token(app, "delete-confirmation:table_keywords", ids, 121)}, "expired"),
    }
    for name, (data, message) in forged.items():
        response = client.post("/admin/keywords/bulk-delete/", data=data)
        text = response.get_data(as_text=True)
        assert response.status_code == 422, name
        assert message in text and "nothing was deleted" in text, name
        assert _left(app, "keywords", ids) == 3 and _left(app, "keywords", others) == 3, name
    assert _deletes(app) == []
    # a token signed a little earlier, still within confirm_delete_seconds, is honoured
    fresh = client.post("/admin/keywords/bulk-delete/", data={
        **good, "token": _old_token(app, "delete-confirmation:table_keywords", ids, 100)})
    assert fresh.status_code == 302 and _left(app, "keywords", ids) == 0 and _left(app, "keywords", others) == 3
    assert sorted(int(e["entity_id"]) for e in _deletes(app)) == ids


def test_the_default_lifetime_is_ten_minutes(make_app, tmp_path):
    path = tmp_path / "default.toml"
    path.write_text('[views.keywords]\nconfirm_delete = "key"\n', encoding="utf-8")
    app = make_app(BACKOFFICE_CONFIG=str(path))
    [keyword] = _rows(app, "keywords", ["ten minute tag"])
    client = app.test_client()
    _html, form = _page(client, "keywords", [keyword])
    stale = {**form, "typed": str(keyword), "token": _old_token(app, "delete-confirmation:table_keywords", [keyword], 601)}
    refused = client.post("/admin/keywords/bulk-delete/", data=stale)
    assert refused.status_code == 422 and "The confirmation expired" in refused.get_data(as_text=True)
    assert _left(app, "keywords", [keyword]) == 1
    recent = {**stale, "token": _old_token(app, "delete-confirmation:table_keywords", [keyword], 590)}
    assert client.post("/admin/keywords/bulk-delete/", data=recent).status_code == 302
    assert _left(app, "keywords", [keyword]) == 0


def test_a_screen_without_confirm_delete_deletes_as_before(app):
    [person] = _rows(app, "people", ["Nobody Special"])
    client = app.test_client()
    html = client.get(f"/admin/people/details/?id={person}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    response = client.post("/admin/people/delete/", data={"csrf_token": token, "id": str(person)})
    assert response.status_code == 302 and _left(app, "people", [person]) == 0
