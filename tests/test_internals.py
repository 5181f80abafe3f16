"""One test per library internal the console still relies on (backoffice/core/internals.py):
each fails loudly when an upgrade changes what the item relies on. And the internals that
were replaced by public means stay out of the code."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, delete, event, update
from sqlalchemy.orm import Session, registry
from werkzeug.routing import Map, Rule

from backoffice.core import internals
from backoffice.core.internals import LazyBuildRule, session_is_flushing, update_values
from views.names import views_of

ROOT = Path(__file__).resolve().parent.parent


def test_werkzeug_still_compiles_url_builders_through_the_hook_lazy_rules_override():
    compiled = []

    class Counting(Rule):
        def _compile_builder(self, append_unknown=True):
            compiled.append(append_unknown)
            return super()._compile_builder(append_unknown)

    Map([Counting("/admin/<name>/", endpoint="eager")]).bind("example.org")
    # Rule.compile builds both URL builders through Rule._compile_builder: a rename or a
    # change of this call makes LazyBuildRule's override dead code (rules eager again).
    assert "_compile_builder" in vars(Rule) and sorted(compiled) == [False, True]

    compiled.clear()

    class LazyCounting(LazyBuildRule, Counting):
        pass

    adapter = Map([LazyCounting("/admin/<name>/", endpoint="lazy")]).bind("example.org")
    assert compiled == []  # nothing compiled until a URL is built
    assert adapter.build("lazy", {"name": "movies", "q": "x"}) == "/admin/movies/?q=x"
    assert adapter.build("lazy", {"name": "movies"}, append_unknown=False) == "/admin/movies/"
    assert sorted(compiled) == [False, True]


def _product_sources():
    for folder in ("views", "backoffice", "models", "console", "queues", "audit_hooks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name != "internals.py":
                yield path, path.read_text(encoding="utf-8")


def test_replaced_internals_stay_out_of_the_screens():
    """``admin._views`` (now views.names.views_of), ``session["_flashes"]`` (now Flask's
    flash / get_flashed_messages), ``flask_admin._backwards`` and werkzeug's
    ``_compile_builder`` (now only in internals.py)."""
    patterns = {r"\._views\b": "admin._views", r"[\"']_flashes[\"']": 'session["_flashes"]',
                r"flask_admin\._backwards": "flask_admin._backwards", r"_compile_builder": "Rule._compile_builder"}
    found = [f"{path.relative_to(ROOT)}: {name}" for path, text in _product_sources()
             for pattern, name in patterns.items() if re.search(pattern, text)]
    assert found == []


# -- audit pipeline: session_is_flushing, update_values --------------------------------------



def test_session_is_flushing_is_true_only_inside_a_flush():
    metadata = MetaData()
    table = Table("t", metadata, Column("id", Integer, primary_key=True), Column("name", String))

    class Row:
        pass

    registry().map_imperatively(Row, table)
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    seen = []
    with Session(engine) as session:
        event.listen(session, "before_flush", lambda s, *_: seen.append(session_is_flushing(s)))
        event.listen(session, "after_flush", lambda s, *_: seen.append(session_is_flushing(s)))
        assert session_is_flushing(session) is False
        row = Row()
        row.name = "x"
        session.add(row)
        session.flush()
        assert session_is_flushing(session) is False
    engine.dispose()
    assert seen == [True, True]


def test_update_values_gives_the_set_clause_of_an_update():
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("name", String))
    values = update_values(update(table).where(table.c.id == 1).values(name="n", id=2))
    assert {getattr(k, "key", k) for k in values} == {"name", "id"}
    assert update_values(delete(table).where(table.c.id == 1)) == {}



@pytest.fixture
def movies(app):
    return next(v for v in views_of(app) if getattr(v, "screen", None) == "movies")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_list_arguments_and_the_sort_column_they_name(app, movies):
    index = next(i for i, f in enumerate(movies._filters) if f.column.key == "id" and f.operation() == "greater than")
    with app.test_request_context(f"/admin/movies/?search=harbor&sort=0&desc=1&flt0_{index}=5"):
        args = internals.list_arguments(movies)
        assert args.search == "harbor" and args.sort == 0 and args.sort_desc
        assert [(i, v) for i, _name, v in args.filters] == [(index, "5")]
        name, label = internals.column_by_index(movies, args.sort)
        # sort index 0 is the first sortable column the list shows (the label column leads)
        assert name == next(c for c in movies.column_list if movies.is_sortable(c)) and label
        assert internals.column_by_index(movies, None) is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_export_columns_and_list_filters(app, movies):
    columns = internals.export_columns(movies)
    assert [name for name, _label in columns][:4] == ["id", "tmdb_id", "imdb_id", "title"]
    assert all(isinstance(label, str) for _name, label in columns)
    flt = internals.list_filter(movies, 0)
    assert flt.column is not None and str(flt.operation())

def test_flask_admin_still_retries_a_view_through_run_view():
    # RunViewOnce overrides this hook; if Flask-Admin renames it, the override silently stops
    # mattering and a TypeError inside a view runs it twice again.
    import inspect

    from flask_admin.base import BaseView

    source = inspect.getsource(BaseView._run_view)
    assert "except TypeError" in source and "cls=self" in source


def test_run_view_once_calls_the_view_once_and_keeps_its_error():
    from flask_admin.base import BaseView, expose

    from backoffice.core.internals import RunViewOnce

    calls = []

    class View(RunViewOnce, BaseView):
        @expose("/")
        def index(self):
            return ""

    def view_function(self, value):
        calls.append(value)
        raise TypeError("can't escape str to binary")

    try:
        View(name="x")._run_view(view_function, "1")
    except TypeError as exc:
        assert str(exc) == "can't escape str to binary"
    else:
        raise AssertionError("the view's error was swallowed")
    assert calls == ["1"]
