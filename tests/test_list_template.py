"""The console's own list page (``backoffice/model/list.html``) is Flask-Admin's list page.

The page is one template with Flask-Admin's macro libraries written out and the parts
that repeat on every page rendered once per process (views/fragments.py, views/pagers.py).
``backoffice/model/list_reference.html`` is the same page built on Flask-Admin's own
``admin/model/list.html``: when Flask-Admin changes its page, the reference follows it and
these comparisons fail until the console's template follows too. Each page is rendered
twice through the console's template (the second from kept fragments) and once through
the reference, for every screen, role, paging mode and odd request, and must be the same
HTML up to whitespace and the CSRF token's timestamp.
"""
from __future__ import annotations

import re
import shutil

import pytest
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import create_engine, text

from console.app import create_app
from views.pagers import pager, simple_pager
from views.rowactions import LIST_TEMPLATE

from tests.auth_helpers import basic, write_users
from tests.conftest import shared_fixture

REFERENCE = "backoffice/model/list_reference.html"

QUERIES = ["/?page_size=20", "/?sort=1&desc=1&search=a", "/?sort=0", "/?page=2&page_size=5",
           "/?flt0_0=1&search=zz%3Cb%3E", "/?page=9999", '/?x="<&>\'%25&page_size=50']


def _same(body: str) -> str:
    body = re.sub(r'(name="csrf_token" type="hidden" value=")[^"]+"', r'\1TOKEN"', body)
    body = re.sub(r'(data-csrf=")[^"]+"', r'\1TOKEN"', body)
    body = re.sub(r"<[^>]*>", lambda tag: re.sub(r"\s+", " ", tag.group()), body)  # line breaks inside a tag
    return re.sub(r"\s*(<[^>]*>)\s*", r"\1", body)


def _screens(app):
    return [v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None)]


def _compare(client, view, url, **kwargs) -> str:
    assert view.list_template == LIST_TEMPLATE
    first = client.get(url, **kwargs)
    again = client.get(url, **kwargs)
    view.list_template = REFERENCE
    try:
        reference = client.get(url, **kwargs)
    finally:
        view.list_template = LIST_TEMPLATE
    assert first.status_code == again.status_code == reference.status_code, url
    ours = _same(first.get_data(as_text=True))
    assert _same(again.get_data(as_text=True)) == ours, url
    assert ours == _same(reference.get_data(as_text=True)), url
    return ours


def test_every_screen_and_query_renders_as_on_flask_admins_page(app):
    client = app.test_client()
    pages = 0
    for view in _screens(app):
        for query in QUERIES:
            body = _compare(client, view, view.url + query)
            pages += body.count('class="table table-striped table-bordered table-hover model-list"')
    assert pages == len(_screens(app)) * len(QUERIES)


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_each_role_sees_the_page_flask_admins_template_shows(make_app, tmp_path, role):
    users = write_users(tmp_path / "users.txt", {"someone": (role, "a long enough password")})
    app = make_app(OPERATOR_AUTH_USERS_FILE=str(users))
    client = app.test_client()
    headers = basic("someone", "a long enough password")
    for view in _screens(app):
        body = _compare(client, view, view.url + "/?page_size=20", headers=headers)
        assert ('id="action_form"' in body) is (role == "admin" and view.can_delete)
    # One role's kept batch-action menu is never another's: a viewer after an admin.


def test_kept_parts_follow_the_role_and_the_script_root(make_app, tmp_path):
    users = write_users(tmp_path / "users.txt", {"boss": ("admin", "a long enough password"),
                                                 "reader": ("viewer", "a long enough password")})
    app = make_app(OPERATOR_AUTH_USERS_FILE=str(users))
    client = app.test_client()
    boss, reader = basic("boss", "a long enough password"), basic("reader", "a long enough password")
    admin_page = client.get("/admin/movies/?page_size=5", headers=boss).get_data(as_text=True)
    viewer_page = client.get("/admin/movies/?page_size=5", headers=reader).get_data(as_text=True)
    assert 'data-backoffice-action="delete"' in admin_page and 'id="action_form"' in admin_page
    assert "data-backoffice-action" not in viewer_page and 'id="action_form"' not in viewer_page
    # Mounted under a prefix (a reverse proxy's SCRIPT_NAME): every kept link carries it.
    # (Flask-Admin's menu keeps the first URL it built for each entry: the sidebar is left out.)
    mounted = client.get("/admin/movies/?page_size=5", headers=boss,
                         environ_overrides={"SCRIPT_NAME": "/console"}).get_data(as_text=True)
    static = re.findall(r'(?:href|src)="([^"]*/static/[^"]*)"', mounted)
    assert len(static) > 15 and all(link.startswith("/console/") for link in static), static
    assert 'action="/console/admin/movies/action/"' in mounted
    plain = client.get("/admin/movies/?page_size=5", headers=boss).get_data(as_text=True)
    assert "/console/" not in plain


def test_a_nonce_on_the_page_is_never_kept(app):
    admin = app.extensions["backoffice.admin"]
    tokens = iter(f"nonce{i}" for i in range(100))
    admin.csp_nonce_generator = lambda: next(tokens)
    client = app.test_client()
    first = client.get("/admin/movies/?page_size=5").get_data(as_text=True)
    second = client.get("/admin/movies/?page_size=5").get_data(as_text=True)
    assert 'nonce="nonce0"' in first and 'nonce="nonce0"' not in second
    assert second.count('nonce="nonce1"') == first.count('nonce="nonce0"') > 10


def test_the_filter_menu_data_changes_with_the_filters(app):
    client = app.test_client()
    view = next(v for v in _screens(app) if v.screen == "movies")

    def menu_data():
        body = client.get("/admin/movies/?page_size=5").get_data(as_text=True)
        return re.search(r'id="filter-groups-data" class="d-none">([^<]*)</div>', body).group(1)

    before = menu_data()
    assert before == menu_data()
    view.column_filters = ["title"]
    view._refresh_cache()
    after = menu_data()
    assert after != before and "title" in after.lower()
    _compare(client, view, "/admin/movies/?page_size=5")


def test_a_template_extending_the_list_overrides_its_blocks(app):
    app.jinja_env.loader = ChoiceLoader([DictLoader({"custom_list.html": (
        "{% extends 'backoffice/model/list.html' %}"
        "{% block model_menu_bar_after_filters %}<li class='own-tab'>mine</li>{% endblock %}"
        "{% block list_pager %}<p class='own-pager'>{{ page }}</p>{% endblock %}"
        "{% block tail %}{{ super() }}<script class='own-tail'></script>{% endblock %}")}),
        app.jinja_env.loader])
    view = next(v for v in _screens(app) if v.screen == "movies")
    view.list_template = "custom_list.html"
    body = app.test_client().get("/admin/movies/?page_size=20").get_data(as_text=True)
    assert "<li class='own-tab'>mine</li>" in body and "<p class='own-pager'>0</p>" in body
    assert "class='own-tail'" in body and "filter-groups-data" in body
    assert 'class="pagination' not in body and body.count('name="rowid"') == 20


def test_awkward_keys_and_a_public_schema(tmp_path, monkeypatch):
    path = tmp_path / "chinook.sqlite"
    shutil.copyfile(shared_fixture("chinook/Chinook_Sqlite.sqlite"), path)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE labels (code TEXT PRIMARY KEY, name TEXT)"))
        for i, key in enumerate(['a&b "c" <d>', "100% + plus/slash?q=1#frag", "ünï 東京", "it's"]):
            conn.execute(text("INSERT INTO labels VALUES (:k, :n)"), {"k": key, "n": f"n{i}"})
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    app.config["TESTING"] = True
    client = app.test_client()
    screens = _screens(app)
    assert len(screens) >= 12
    for view in screens:
        for query in ("/?page_size=10&page=3", '/?search=&x="<&>\'%25'):
            _compare(client, view, view.url + query)


@pytest.mark.parametrize("pages", [0, 1, 2, 3, 7, 8, 9, 20])
def test_the_pagers_write_what_flask_admins_macros_write(app, pages):
    template = app.jinja_env.from_string(
        "{% import 'admin/lib.html' as lib with context %}"
        "{{ lib.pager(page, pages, url) }}|{{ lib.simple_pager(page, more, url) }}")
    url = lambda p: f"/x/?page={p}&q=<&>"  # noqa: E731 - escaped by both
    with app.test_request_context("/admin/movies/"):
        for page in range(-1, pages + 2):
            for more in (True, False):
                macros = template.render(page=page, pages=pages, more=more, url=url, admin_view=None)
                ours = f"{pager(page, pages, url)}|{simple_pager(page, more, url)}"
                assert _same(ours) == _same(macros), (page, pages, more)
