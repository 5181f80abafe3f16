"""One test per library internal the console still relies on (backoffice/core/internals.py):
each fails loudly when an upgrade changes what the item relies on. And the internals that
were replaced by public means stay out of the code."""
from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, delete, event, update
from sqlalchemy.orm import Session, registry
from werkzeug.routing import Map, Rule

from backoffice.core.internals import LazyBuildRule, session_is_flushing, update_values

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
    for folder in ("views", "backoffice/web", "backoffice/core", "models", "console"):
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
