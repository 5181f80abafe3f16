"""A small table's exact count comes with its page in one statement (views/reading.py
``fast_count``): the page and the count must be exactly those of the separate count, on
every screen, sort and page, past the last page, and follow every write at once."""
import re

from sqlalchemy import create_engine, text

from backoffice.core.settings import normalise_database_url
from tests.test_list_rendering import _same_token, _views


def _count(body: str) -> str:
    found = re.search(r'class="text-muted small backoffice-listing-count">([^<]*)<', body)
    assert found, "no count on the page"
    return found.group(1).strip()


def _both(client, view, url):
    pages = []
    for fast in (True, False):
        view.fast_count = fast
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(_same_token(response.get_data(as_text=True)))
    view.fast_count = True
    return pages


def test_every_screen_counts_and_pages_as_the_separate_count_does(app):
    client = app.test_client()
    counted = 0
    for view in _views(app):
        for query in ("?page_size=5", "?page_size=5&page=2&sort=0&desc=1", "?page_size=5&page=100000"):
            fast, slow = _both(client, view, f"{view.url}/{query}")
            assert fast == slow, (view.screen, query)
            counted += "rows." in _count(fast)
    assert counted > 10  # the screens did show exact counts


def test_the_count_follows_a_write_at_once(app, db_url):
    client = app.test_client()
    first = _count(client.get("/admin/movies/?page_size=5").get_data(as_text=True))
    shown = int(first.split()[0].replace(",", ""))
    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM movies WHERE id IN (SELECT id FROM movies ORDER BY id LIMIT 2)"))
    engine.dispose()
    assert _count(client.get("/admin/movies/?page_size=5").get_data(as_text=True)) == f"{shown - 2:,} rows."
    # Past the last page: no row to carry the count, counted apart.
    assert _count(client.get("/admin/movies/?page_size=5&page=100000").get_data(as_text=True)) == f"{shown - 2:,} rows."


def test_the_kept_page_query_follows_a_change_of_the_screens_columns(app):
    client = app.test_client()
    view = next(v for v in _views(app) if v.screen == "movies")
    url = "/admin/movies/?page_size=5&sort=0&desc=1"
    before, _ = _both(client, view, url)
    view.column_list = list(reversed([c for c, _name in view._list_columns]))
    view._refresh_cache()
    after, slow = _both(client, view, url)
    assert after == slow and after != before  # sort 0 is another column now, as the slow path says


def test_a_screen_that_builds_its_own_query_gets_it_built_on_every_request(app):
    from flask import request

    client = app.test_client()
    view = next(v for v in _views(app) if v.screen == "movies")
    assert client.get("/admin/movies/?page_size=5").status_code == 200  # the screen is built
    base = type(view)

    class Narrowed(base):
        def get_query(self):
            below = request.args.get("below")
            query = super().get_query()
            return query.filter(self.model.id < int(below)) if below else query

        def get_count_query(self):
            below = request.args.get("below")
            query = super().get_count_query()
            return query.filter(self.model.id < int(below)) if below else query

    view.__class__ = Narrowed
    try:
        counts = [_count(client.get(f"/admin/movies/?page_size=5&below={n}").get_data(as_text=True))
                  for n in (11, 21, 11)]
    finally:
        view.__class__ = base
    assert counts == ["10 rows.", "20 rows.", "10 rows."]


def test_the_kept_page_query_follows_a_new_default_order(app):
    client = app.test_client()
    view = next(v for v in _views(app) if v.screen == "movies")
    first, _ = _both(client, view, "/admin/movies/?page_size=5")
    view.column_default_sort = ("title", True)  # changed at run time, no _refresh_cache
    fast, slow = _both(client, view, "/admin/movies/?page_size=5")
    assert fast == slow and fast != first


def test_the_kept_page_query_follows_a_new_sort_expression_under_the_same_name(app):
    client = app.test_client()
    view = next(v for v in _views(app) if v.screen == "movies")
    index = [c for c, _name in view._list_columns].index("title")
    url = f"/admin/movies/?page_size=5&sort={index}"
    before, _ = _both(client, view, url)
    # "title" now sorts by another column: the same name and key, another query.
    view.column_sortable_list = [("title", view.model.imdb_id)]
    view._refresh_cache()
    after, slow = _both(client, view, url)
    assert after == slow and after != before
