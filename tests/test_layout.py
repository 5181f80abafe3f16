"""The layout every page shares (sidebar, top bar, theme) and the "jump to" box: screens by
name, records by id or label, bounded on large tables, only what the role may open."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event, text

import views.jump as jump

from tests.auth_helpers import ENV, basic, write_users
from tests.conftest import outside_sql


def _records(html: str) -> list[tuple[str, str]]:
    block = re.search(r'<ul class="backoffice-jump-records">(.*?)</ul>', html, re.S)
    return re.findall(r'<a href="([^"]+)">([^<]*)</a>', block.group(1)) if block else []


def _screens(html: str) -> list[str]:
    block = re.search(r'<ul class="backoffice-jump-screens">(.*?)</ul>', html, re.S)
    return re.findall(r'<a href="[^"]+">([^<]*)</a>', block.group(1)) if block else []


def test_jump_finds_a_screen_by_name(client):
    html = client.get("/admin/jump/?q=movie").get_data(as_text=True)
    assert "movies" in _screens(html) and "movie_credits" in _screens(html)
    assert "genres" not in _screens(html)
    assert "Audit history" in _screens(client.get("/admin/jump/?q=AUDIT").get_data(as_text=True))


def test_jump_finds_a_record_by_id_and_by_label(client, app):
    movie = outside_sql(app, "SELECT id, title FROM movies ORDER BY id LIMIT 1 OFFSET 17")[0]
    by_id = _records(client.get(f"/admin/jump/?q={movie['id']}").get_data(as_text=True))
    assert (f"/admin/movies/details/?id={movie['id']}", f"{movie['title']} (#{movie['id']})") in \
        [(url.replace("&amp;", "&"), label.replace("&#39;", "'").replace("&amp;", "&")) for url, label in by_id]

    prefix = movie["title"][:6].upper()
    by_label = client.get("/admin/jump/", query_string={"q": prefix}).get_data(as_text=True)
    found = [url for url, _ in _records(by_label)]
    assert f"/admin/movies/details/?id={movie['id']}" in found or len(found) >= jump.PER_TABLE
    expected = outside_sql(app, "SELECT count(*) AS n FROM movies WHERE lower(title) LIKE :p",
                           p=prefix.lower() + "%")[0]["n"]
    assert sum("/admin/movies/" in u for u in found) == min(expected, jump.PER_TABLE)


def test_jump_wildcards_are_literal_and_odd_input_is_harmless(client):
    assert _records(client.get("/admin/jump/?q=%25").get_data(as_text=True)) == []  # "%" matches no title
    assert _records(client.get("/admin/jump/?q=_").get_data(as_text=True)) == []
    for q in ("'; DROP TABLE movies; --", "x" * 5000, "\u202e", "-1", "99999999999999999999999", "1999-02-30"):
        assert client.get("/admin/jump/", query_string={"q": q}).status_code == 200
    assert client.get("/admin/jump/", query_string={"q": "a\u0000"}).status_code == 400  # the console's rule for NUL
    assert client.get("/admin/movies/").status_code == 200


def test_a_large_table_gets_indexed_lookups_only(app, client, monkeypatch):
    """Every table counts as large: the label prefix (a scan) is no longer asked; the id is,
    and the label only where an index leads with it, by its whole value."""
    monkeypatch.setattr(jump, "SCAN_LIMIT", 0)
    statements = []
    with app.app_context():
        engine = app.extensions["backoffice.db"].engine
    listener = lambda conn, cur, statement, params, ctx, many: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        movie = outside_sql(app, "SELECT id, title FROM movies ORDER BY id LIMIT 1")[0]
        html = client.get("/admin/jump/", query_string={"q": movie["title"][:4]}).get_data(as_text=True)
        assert _records(html) == []  # no table has an indexed label equal to four letters
        assert "Large tables are searched by id" in html
        assert not any(" LIKE " in s.upper() for s in statements), [s for s in statements if "LIKE" in s.upper()]
        assert not any("FROM movies" in s and "lower(" in s for s in statements)
        ids = _records(client.get(f"/admin/jump/?q={movie['id']}").get_data(as_text=True))
        assert any(url == f"/admin/movies/details/?id={movie['id']}" for url, _ in ids)
    finally:
        event.remove(engine, "before_cursor_execute", listener)


@pytest.mark.postgres
def test_no_jump_query_scans_on_postgresql(app, db_url, pg_demo_url, monkeypatch):
    """With every table large, each lookup is planned with sequential scans off: a plan that
    still scans has no index to use."""
    if db_url != pg_demo_url:
        pytest.skip("planned on PostgreSQL (the [postgresql] case)")
    monkeypatch.setattr(jump, "SCAN_LIMIT", 0)
    outside_sql(app, "CREATE INDEX ix_genres_name ON genres (name)")  # a label an index serves
    app2 = app
    with app2.app_context():
        engine = app2.extensions["backoffice.db"].engine
    from sqlalchemy import Index
    genres = app2.extensions["backoffice.reflection"].tables["genres"].table
    Index("ix_genres_name", genres.c.name)  # what the reflection would hold had it started after the index
    for view in app2.extensions["backoffice.views"]:
        view.__dict__.pop("_indexed_attributes", None)
    captured = []
    listener = lambda conn, cur, statement, params, ctx, many: captured.append((statement, params))  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        client = app2.test_client()
        name = outside_sql(app2, "SELECT name FROM genres ORDER BY id LIMIT 1")[0]["name"]
        html = client.get("/admin/jump/", query_string={"q": name}).get_data(as_text=True)
        assert any("/admin/genres/details/" in url for url, _ in _records(html))  # exact label, indexed
        client.get("/admin/jump/?q=42")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    lookups = [(s, p) for s, p in captured if "LIMIT" in s.upper() and "WHERE" in s.upper()
               and "pg_class" not in s and "backoffice_" not in s]
    assert len(lookups) >= 8
    with engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        for statement, params in lookups:
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, params))
            assert "Seq Scan" not in plan, f"{statement}\n{plan}"


@pytest.fixture
def roles_app(make_app, tmp_path):
    users = write_users(tmp_path / "users", {"vera": ("viewer", "pw-vera"), "otto": ("operator", "pw-otto")})
    return make_app(OPERATOR_AUTH_USERS_FILE=users, **ENV)


def test_jump_respects_roles(roles_app):
    client = roles_app.test_client()
    vera, otto = basic("vera", "pw-vera"), basic("otto", "pw-otto")
    assert "Audit history" in _screens(client.get("/admin/jump/?q=audit", headers=otto).get_data(as_text=True))
    viewer = client.get("/admin/jump/?q=audit", headers=vera).get_data(as_text=True)
    assert "Audit history" not in _screens(viewer) and "/admin/audit/" not in viewer
    assert client.get("/admin/audit/", headers=vera).status_code == 404  # where it would lead: a missing page
    assert client.get("/admin/jump/?q=audit").status_code == 401


def test_jump_never_searches_a_hidden_column(make_app, tmp_path):
    config = tmp_path / "console.toml"
    config.write_text('[views.genres]\nnever_show = ["name"]\n', encoding="utf-8")
    app = make_app(BACKOFFICE_CONFIG=config)
    name = outside_sql(app, "SELECT name FROM genres ORDER BY id LIMIT 1")[0]["name"]
    html = app.test_client().get("/admin/jump/", query_string={"q": name}).get_data(as_text=True)
    assert not any("/admin/genres/" in url for url, _ in _records(html))


def test_every_page_has_landmarks_a_labelled_jump_box_and_no_inline_script(roles_app):
    client = roles_app.test_client()
    for url in ("/admin/", "/admin/movies/", "/admin/jump/?q=x", "/admin/catalog-health/"):
        response = client.get(url, headers=basic("otto", "pw-otto"))
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert "<header" in html and '<main id="backoffice-main"' in html and 'aria-label="Screens"' in html
        assert re.search(r'<label for="backoffice-jump-q"[^>]*>Jump to a screen or a record</label>', html)
        assert "otto &middot; operator" in html
        # the theme is chosen by a file in <head>, before the body: no flash, and the CSP
        # (script-src 'self') holds because no script is inline
        head, body = html.split("<body", 1)
        assert '/static/theme.js"></script>' in head
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert not re.search(r'(?:src|href)="(?:https?:)?//', html), url  # every asset from this host


def test_the_sidebar_groups_screens_by_category_for_the_role(roles_app):
    client = roles_app.test_client()
    otto = client.get("/admin/", headers=basic("otto", "pw-otto")).get_data(as_text=True)
    vera = client.get("/admin/", headers=basic("vera", "pw-vera")).get_data(as_text=True)
    groups = lambda html: re.findall(r'<summary class="backoffice-nav-group-name">(.*?)</summary>', html)  # noqa: E731
    assert "Audit" in groups(otto) and "Audit" not in groups(vera)
    assert 'aria-current="page">Dashboard</a>' in otto
    movies = client.get("/admin/movies/", headers=basic("otto", "pw-otto")).get_data(as_text=True)
    assert re.search(r'<a class="backoffice-nav-link active" href="/admin/movies/"\s*aria-current="page">movies</a>', movies)


def test_the_theme_script_keeps_the_choice_and_follows_the_system(client):
    script = client.get("/static/theme.js").get_data(as_text=True)
    assert "localStorage" in script and "prefers-color-scheme: dark" in script and 'data-theme' in script
