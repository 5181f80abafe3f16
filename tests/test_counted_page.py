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
