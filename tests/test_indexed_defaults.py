"""On a large table a screen offers to sort and filter by indexed columns only, says so,
and still offers whatever the declarative file declares; small tables offer everything."""
import html
import json
import re

import pytest

INDEXED_MOVIE_LABELS = {"Id", "Tmdb id", "Imdb id", "Release date", "Updated at"}
#: Sort links are offered on listed columns; the generic list leaves "Updated at" to details.
LISTED_INDEXED = INDEXED_MOVIE_LABELS - {"Updated at"}


def _movies(app):
    return next(v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None) == "movies")


def _as_large(app):
    view = _movies(app)
    view.exact_count_limit, view._size = 100, None  # the demo's 2,000 movies count as a large table
    return view


def _offered(body: str) -> tuple[set[str], set[str]]:
    sorts = set(re.findall(r'title="Sort by ([^"]+)"', html.unescape(body)))
    data = re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', body)
    filters = set(json.loads(html.unescape(data.group(1)))) if data else set()
    return sorts, filters


def test_a_large_table_offers_indexed_columns_only_and_says_so(app):
    _as_large(app)
    body = app.test_client().get("/admin/movies/").get_data(as_text=True)
    sorts, filters = _offered(body)
    assert sorts == LISTED_INDEXED
    assert filters and filters <= INDEXED_MOVIE_LABELS and "Title" not in filters
    note = re.search(r'class="text-muted small backoffice-indexed-only">([^<]+)<', body).group(1)
    assert note.startswith("This table is large: it can be sorted and filtered by indexed columns only (Id, ")
    assert "Release date" in note and "Title" not in note


def test_filters_that_remain_keep_their_urls(app):
    view = _as_large(app)
    client = app.test_client()
    body = client.get("/admin/movies/").get_data(as_text=True)
    groups = json.loads(html.unescape(re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', body).group(1)))
    item = next(i for i in groups["Release date"] if "greater" in i["operation"])
    assert view._filters[item["index"]].column.name == "release_date"
    filtered = client.get(f"/admin/movies/?flt0_{item['arg']}=2020-01-01")
    assert filtered.status_code == 200
    assert "rows match" in filtered.get_data(as_text=True)  # the filter applied: a narrowed count


def test_an_unindexed_order_asked_for_anyway_is_still_served_bounded(app):
    view = _as_large(app)
    title_index = [name for name, _label in view._list_columns].index("title")
    response = app.test_client().get(f"/admin/movies/?sort={title_index}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "sorted by title, which has no index" in body


def test_a_small_table_offers_every_column(app):
    body = app.test_client().get("/admin/movies/").get_data(as_text=True)
    sorts, filters = _offered(body)
    assert {"Title", "Original language", "Runtime minutes"} <= sorts and "Title" in filters
    assert "backoffice-indexed-only" not in body


def _large_and_declared(make_app, tmp_path, declarations: str):
    config = tmp_path / "screens.toml"
    config.write_text("[views.movies]\n" + declarations)
    app = make_app(BACKOFFICE_CONFIG=str(config))
    _as_large(app)
    body = app.test_client().get("/admin/movies/").get_data(as_text=True)
    return _offered(body), body


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_declared_columns_are_offered_whatever_the_size(make_app, tmp_path):
    (sorts, filters), body = _large_and_declared(
        make_app, tmp_path, 'sortable = ["title", "id"]\nfilters = ["title", "runtime_minutes"]\n')
    assert sorts == {"Title", "Id"}
    assert filters == {"Title", "Runtime minutes"}
    assert "backoffice-indexed-only" not in body


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_declaring_only_filters_still_narrows_the_sort_links(make_app, tmp_path):
    (sorts, filters), body = _large_and_declared(make_app, tmp_path, 'filters = ["title"]\n')
    assert sorts == LISTED_INDEXED and filters == {"Title"}
    assert "This table is large: it can be sorted by indexed columns only (Id, " in body
