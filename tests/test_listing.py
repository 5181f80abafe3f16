"""List screens on big tables: count strategies, keyset pages, bounded offsets (SQLite and PostgreSQL).

A table counts as "large" above the view's ``exact_count_limit``; the tests lower
that limit on the live view so the 2,000-movie demo catalog behaves like a big one.
"""
import html
import re

import pytest
from sqlalchemy import text

from views.paging import ShownCount


def screen(app, name):
    for view in app.extensions["backoffice.admin"]._views:
        if getattr(view, "screen", None) == name:
            return view
    raise AssertionError(name)


def tune(app, name, **attributes):
    """Set view attributes as the declarative file would, and forget the cached size."""
    view = screen(app, name)
    for key, value in attributes.items():
        setattr(view, key, value)
    view._size = None
    view._refresh_cache()
    return view


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return html.unescape(response.get_data(as_text=True))


def ids_on(body):
    values = re.findall(r'name="rowid" class="action-checkbox" value="([^"]+)"', body)
    return [int(v) if v.isdigit() else v for v in values]


def link(body, rel):
    match = re.search(rf'rel="{rel}" href="([^"]+)"', body)
    return match and match.group(1)


def walk(client, url):
    """Follow Next from ``url`` to the end; return the pages' ids and the URLs visited."""
    pages, urls = [], []
    while url:
        body = page(client, url)
        pages.append(ids_on(body))
        urls.append(url)
        url = link(body, "next")
        assert len(pages) < 200, "the walk does not end"
    return pages, urls


def table_ids(app, sql):
    with app.app_context():
        return [row[0] for row in app.extensions["backoffice.db"].session.execute(text(sql))]


def test_small_table_keeps_an_exact_count_and_numbered_pages(client, demo_counts):
    body = page(client, "/admin/movies/")
    assert f"List ({demo_counts.movies:,})" in body
    assert f"{demo_counts.movies:,} rows." in body
    assert "backoffice-keyset-pager" not in body and "page=39" in body  # Flask-Admin's numbered pager


def test_large_table_is_walked_by_key_without_duplicates_or_gaps(app, client):
    tune(app, "movies", exact_count_limit=500)
    pages, urls = walk(client, "/admin/movies/?page_size=100")
    seen = [i for p in pages for i in p]
    assert seen == table_ids(app, "SELECT id FROM movies ORDER BY id")
    assert all(len(p) == 100 for p in pages[:-1])
    assert "after=" in urls[-1] and "offset" not in urls[-1]
    # Previous from the last page gives back the page before it, exactly.
    body = page(client, urls[-1])
    assert ids_on(page(client, link(body, "prev"))) == pages[-2]
    # the page URL carries the page number and the key; unknown arguments survive
    assert re.search(r"page=1\b.*after=100|after=100.*page=1\b", urls[1])


@pytest.mark.slow  # walks every page
@pytest.mark.parametrize("desc", [0, 1])
def test_keyset_on_an_indexed_nullable_sort_column(app, client, desc):
    view = tune(app, "movies", exact_count_limit=500)
    sort = [c[0] for c in view._list_columns].index("release_date")
    pages, urls = walk(client, f"/admin/movies/?sort={sort}&desc={desc}&page_size=100" if desc
                       else f"/admin/movies/?sort={sort}&page_size=100")
    seen = [i for p in pages for i in p]
    direction = "DESC" if desc else "ASC"
    # Each database's own NULL placement: PostgreSQL treats NULL as largest, SQLite as smallest.
    nulls = "" if app.extensions["backoffice.reflection"].dialect != "postgresql" else \
        (" NULLS FIRST" if desc else " NULLS LAST")
    assert seen == table_ids(app, f"SELECT id FROM movies ORDER BY release_date {direction}{nulls}, id {direction}")
    assert len(seen) == len(set(seen)) == 2000
    assert table_ids(app, "SELECT count(*) FROM movies WHERE release_date IS NULL")[0] > 0  # NULLs were crossed
    # walking back from the last page reproduces every page
    url, back = urls[-1], [pages[-1]]
    while (url := link(page(client, url), "prev")) and len(back) <= len(pages):
        back.append(ids_on(page(client, url)))
    assert back[::-1] == pages  # and the first page offers no Previous


def test_composite_primary_key_tables_page_by_key(app, client):
    tune(app, "movie_genres", exact_count_limit=100)
    pages, urls = walk(client, "/admin/movie_genres/?page_size=100")
    seen = [key for body_ids in pages for key in body_ids]
    expected = table_ids(app, "SELECT movie_id || ',' || genre_id FROM movie_genres ORDER BY movie_id, genre_id")
    assert len(pages) > 2 and "after=" in urls[1]
    assert seen == expected


def test_unindexed_sort_on_a_large_table_is_bounded_and_says_so(app, client):
    view = tune(app, "movies", exact_count_limit=500, max_offset_rows=200)
    sort = [c[0] for c in view._list_columns].index("title")
    body = page(client, f"/admin/movies/?sort={sort}&page=50&page_size=50")
    assert "sorted by title, which has no index" in body and "first 4 pages" in body
    expected = table_ids(app, "SELECT id FROM movies ORDER BY title LIMIT 50 OFFSET 150")
    assert ids_on(body) == expected  # clamped to the last served page


def test_forged_page_key_shows_the_first_page(app, client):
    tune(app, "movies", exact_count_limit=500)
    body = page(client, "/admin/movies/?after=%5B%22x%22%5D&page=3")
    assert "The page link was not valid" in body
    assert ids_on(body)[0] == 1


def test_searched_list_count_is_capped(app, client):
    tune(app, "movies", column_searchable_list=["title"], count_cap=5)
    body = page(client, "/admin/movies/?search=the")
    assert "List (5+)" in body and "counting stops at 5" in body
    body = page(client, "/admin/movies/?search=no-such-title-anywhere")
    assert "0 rows match." in body


def test_filtered_list_count_is_capped_even_when_exact_is_asked_for(app, client):
    view = tune(app, "movies", count_strategy="exact", count_cap=7)
    assert "release_date" in [f.column.name for f in view._filters]  # indexed columns are filters
    index = next(i for i, f in enumerate(view._filters) if f.column.name == "release_date" and f.operation() == "greater than")
    body = page(client, f"/admin/movies/?flt0_{index}=1990-01-01")
    assert "List (7+)" in body


def test_count_none_shows_no_count(app, client):
    tune(app, "movies", count_strategy="none")
    body = page(client, "/admin/movies/")
    assert "Rows are not counted on this screen." in body and "List (" not in body



def test_auto_count_on_a_large_table(app, client):
    tune(app, "movies", exact_count_limit=500, count_cap=1000)
    body = page(client, "/admin/movies/")
    if app.extensions["backoffice.reflection"].dialect == "postgresql":
        assert re.search(r"List \(about 2\.0K\)", body), "PostgreSQL shows the statistics' estimate"
        assert "PostgreSQL's estimate" in body
    else:
        assert "List (1,000+)" in body, "SQLite has no statistics: capped"


def test_size_decision_is_cached(app, client):
    view = tune(app, "movies", exact_count_limit=500)
    page(client, "/admin/movies/")
    first = view.table_size()
    page(client, "/admin/movies/")
    assert view.table_size() is first


def test_shown_count_wording():
    assert str(ShownCount(1_000_000, "estimate")) == "about 1.0M"
    assert str(ShownCount(10_000, "capped")) == "10,000+"
    assert str(ShownCount(1234)) == "1,234"


def test_declared_strategy_overrides_auto_on_a_large_table(app, client, demo_counts):
    tune(app, "movies", exact_count_limit=500, count_strategy="exact")
    assert f"List ({demo_counts.movies:,})" in page(client, "/admin/movies/")
    tune(app, "movies", exact_count_limit=500, count_strategy="capped", count_cap=100)
    assert "List (100+)" in page(client, "/admin/movies/")
    tune(app, "movies", exact_count_limit=500, count_strategy="estimate", count_cap=100)
    body = page(client, "/admin/movies/")
    # SQLite keeps no statistics: an estimate is impossible there, so the count is capped
    expected = "List (about 2.0K)" if app.extensions["backoffice.reflection"].dialect == "postgresql" else "List (100+)"
    assert expected in body
