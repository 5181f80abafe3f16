"""One test per library internal the console relies on (backoffice/core/internals.py):
each fails loudly when an upgrade of the library changes what it reads."""
from __future__ import annotations

import pytest

from backoffice.core import internals


@pytest.fixture
def movies(app):
    return next(v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None) == "movies")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_list_arguments_and_the_sort_column_they_name(app, movies):
    index = next(i for i, f in enumerate(movies._filters) if f.column.key == "id" and f.operation() == "greater than")
    with app.test_request_context(f"/admin/movies/?search=harbor&sort=0&desc=1&flt0_{index}=5"):
        args = internals.list_arguments(movies)
        assert args.search == "harbor" and args.sort == 0 and args.sort_desc
        assert [(i, v) for i, _name, v in args.filters] == [(index, "5")]
        name, label = internals.column_by_index(movies, args.sort)
        assert name == "id" and label
        assert internals.column_by_index(movies, None) is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_export_columns_and_list_filters(app, movies):
    columns = internals.export_columns(movies)
    assert [name for name, _label in columns][:4] == ["id", "tmdb_id", "imdb_id", "title"]
    assert all(isinstance(label, str) for _name, label in columns)
    flt = internals.list_filter(movies, 0)
    assert flt.column is not None and str(flt.operation())
