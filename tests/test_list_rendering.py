"""The list page renders row actions once per page and cells in one call: the HTML must
be what Flask-Admin's per-row macros and cell loop produce (up to whitespace between
tags), for every screen, every role and awkward keys."""
import html
import re

import pytest
from sqlalchemy import create_engine, text

from console.app import create_app

from tests.auth_helpers import basic, write_users


def _views(app):
    return [v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None)]


def _same_token(body: str) -> str:
    # A CSRF token is signed with a timestamp: two requests a second apart differ there only.
    body = re.sub(r'(name="csrf_token" type="hidden" value=")[^"]+"', r'\1TOKEN"', body)
    body = re.sub(r'(data-csrf=")[^"]+"', r'\1TOKEN"', body)
    # The template indents cells and breaks long tags; one call does not. Whitespace next to
    # tags, and runs of it inside a tag, are not content.
    body = re.sub(r"<[^>]*>", lambda tag: re.sub(r"\s+", " ", tag.group()), body)
    return re.sub(r"\s*(<[^>]*>)\s*", r"\1", body)


def _both(client, view, url, **kwargs):
    """The page rendered with the per-page row actions, then through the macros."""
    view.fast_row_actions = True
    fast = client.get(url, **kwargs)
    view.fast_row_actions = False
    slow = client.get(url, **kwargs)
    view.fast_row_actions = True
    assert fast.status_code == slow.status_code == 200, url
    return _same_token(fast.get_data(as_text=True)), _same_token(slow.get_data(as_text=True))


def test_every_screen_renders_row_actions_as_the_macros_do(app):
    client = app.test_client()
    checked = 0
    for view in _views(app):
        fast, slow = _both(client, view, view.url + "/?page_size=20&page=1")
        assert fast == slow, view.screen
        checked += fast.count('class="list-buttons-column"')
    assert checked > 20  # the pages did hold rows with actions


def test_movie_rows_carry_their_own_id_in_each_action(app):
    client = app.test_client()
    body = html.unescape(client.get("/admin/movies/?page_size=20").get_data(as_text=True))
    ids = re.findall(r'name="rowid" class="action-checkbox" value="([^"]+)"', body)
    assert len(ids) == 20
    for row_id in ids:
        assert f"/admin/movies/details/?id={row_id}&url=" in body
        assert f"/admin/movies/edit/?id={row_id}&url=" in body
        assert f'id="id" name="id" type="hidden" value="{row_id}"' in body
    # One CSRF token per page, in every delete form.
    tokens = re.findall(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', body)
    assert len(tokens) >= 20 and len(set(tokens)) == 1


def test_awkward_text_keys_and_return_urls(tmp_path, monkeypatch):
    path = tmp_path / "keys.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    keys = ['a&b "c" <d>', "comma,dot.", "100% + plus/slash?q=1#frag", "ünï código 東京", "it's"]
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE labels (code TEXT PRIMARY KEY, name TEXT)"))
        conn.execute(text("CREATE TABLE pairs (a TEXT, b INTEGER, note TEXT, PRIMARY KEY (a, b))"))
        for i, key in enumerate(keys):
            conn.execute(text("INSERT INTO labels VALUES (:k, :n)"), {"k": key, "n": f"n{i}"})
            conn.execute(text("INSERT INTO pairs VALUES (:k, :b, 'x')"), {"k": key, "b": i})
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    app.config["TESTING"] = True
    client = app.test_client()
    for view in _views(app):
        # A return URL with characters that need escaping in both the URL and the HTML.
        fast, slow = _both(client, view, view.url + '/?search=&page_size=50&x="<&>\'%25')
        assert fast == slow, view.screen
        details = re.findall(r'href="([^"]*/details/\?[^"]*)"', fast)
        assert len(details) == len(keys)
        for href in details:  # each details link opens its own row
            assert client.get(html.unescape(href)).status_code == 200, href


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_row_actions_follow_the_role(make_app, tmp_path, role):
    users = write_users(tmp_path / "users.txt", {"someone": (role, "a long enough password")})
    app = make_app(OPERATOR_AUTH_USERS_FILE=str(users))
    client = app.test_client()
    headers = basic("someone", "a long enough password")
    view = next(v for v in _views(app) if v.screen == "movies")
    body, slow = _both(client, view, "/admin/movies/?page_size=20", headers=headers)
    assert body == slow
    assert ("/admin/movies/delete/" in body) is (role == "admin")
    assert ("/admin/movies/edit/" in body) is (role in ("operator", "admin"))


def test_columns_editable_in_the_list_keep_their_widgets(app):
    client = app.test_client()
    view = next(v for v in _views(app) if v.screen == "movies")
    view.column_editable_list = ["title"]
    view._refresh_cache()
    fast, slow = _both(client, view, "/admin/movies/?page_size=20")
    assert fast == slow
    assert fast.count('data-role="x-editable"') == 20


def test_choices_and_type_formatters_are_applied_as_flask_admin_does(app):
    client = app.test_client()
    view = next(v for v in _views(app) if v.screen == "movies")
    view.column_choices = {"original_language": [("en", "English"), ("fr", "French")]}
    view.column_type_formatters = {**view.column_type_formatters, int: lambda _v, value, _name: f"n{value}"}
    view._refresh_cache()
    fast, slow = _both(client, view, "/admin/movies/?page_size=20")
    assert fast == slow
    assert "English" in fast and 'class="col-runtime_minutes">n' in fast


def test_a_template_extending_the_list_keeps_its_row_blocks(app):
    from jinja2 import ChoiceLoader, DictLoader

    app.jinja_env.loader = ChoiceLoader([DictLoader({"custom_list.html": (
        "{% extends 'backoffice/model/list.html' %}"
        "{% block list_row_actions %}<span class='own-action'>{{ get_pk_value(row) }}</span>{% endblock %}")}),
        app.jinja_env.loader])
    view = next(v for v in _views(app) if v.screen == "movies")
    view.list_template = "custom_list.html"
    body = app.test_client().get("/admin/movies/?page_size=20").get_data(as_text=True)
    assert body.count("class='own-action'") == 20
    assert 'name="rowid" class="action-checkbox"' in body and "/admin/movies/edit/" not in body
