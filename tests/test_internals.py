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
    every = internals.list_filters(movies)
    assert every[0] is flt and len(every) > 1
    assert movies.get_filter_arg(0, flt) == "0"  # the URL index of the filter: flt<n>_0

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


# -- Flask-Admin view internals: list URLs, cells, actions, hooks -----------------------------

@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_list_url_writes_the_arguments_back_as_flask_admin_reads_them(app, movies):
    index = next(i for i, f in enumerate(movies._filters) if f.column.key == "id" and f.operation() == "greater than")
    with app.test_request_context(f"/admin/movies/?search=harbor&sort=0&desc=1&flt0_{index}=5&after=k"):
        args = internals.list_arguments(movies)
        url = internals.list_url(movies, args.clone(page=2))
    with app.test_request_context(url):
        again = internals.list_arguments(movies)
    assert url.startswith("/admin/movies/")
    assert (again.search, again.sort, bool(again.sort_desc), again.page) == ("harbor", 0, True, 2)
    assert [(i, v) for i, _name, v in again.filters] == [(index, "5")] and again.extra_args == {"after": "k"}


def _choices_view():
    from flask_admin.contrib.sqla import ModelView
    from sqlalchemy.orm import declarative_base

    base = declarative_base()

    class Thing(base):
        __tablename__ = "thing"
        id = Column(Integer, primary_key=True)
        state = Column(String)

    class ThingView(ModelView):
        column_choices = {"state": [("a", "Active")]}

    with pytest.warns(DeprecationWarning):  # a bare session: all this test needs
        return ThingView(Thing, Session()), Thing


def test_column_choices_is_the_map_flask_admin_shows_list_values_through():
    view, thing = _choices_view()
    assert internals.column_choices(view, "state") == {"a": "Active"}
    assert internals.column_choices(view, "id") == {}
    row = thing(id=1, state="a")
    # Flask-Admin's own cell value goes through the same map (what the fast rows copy).
    assert view.get_list_value(None, row, "state") == "Active"


def test_list_value_is_flask_admins_notices_an_override_on_any_step():
    from flask_admin.contrib.sqla import ModelView
    from flask_admin.model import BaseModelView

    for name in ("get_list_value", "_get_list_value", "_get_field_value"):
        assert callable(vars(BaseModelView)[name]), name  # the path the fast rows copy
    assert internals.list_value_is_flask_admins(ModelView)
    for name in ("get_list_value", "_get_list_value", "_get_field_value"):
        assert not internals.list_value_is_flask_admins(type("Custom", (ModelView,), {name: lambda self, *a: a}))
    # Flask-Admin reads a field as rec_getattr does (views/ux.py and the fast rows use it).
    view, thing = _choices_view()
    assert view._get_field_value(thing(id=7), "id") == 7


def test_actions_are_read_and_stored_where_flask_admin_keeps_them():
    from flask_admin.actions import action
    from flask_admin.contrib.sqla import ModelView

    @action("ping", "Ping", "Sure?")
    def ping(self, ids):
        return ids

    assert internals.action_declaration(ping) == ("ping", "Ping", "Sure?")
    assert internals.action_declaration(lambda: None) is None
    view, _thing = _choices_view()
    handler = object()
    internals.set_actions(view, [("ping", "Ping", handler, "Sure?"), ("other", "Other", len, None)])
    assert internals.action_handler(view, "ping") is handler and internals.action_handler(view, "nope") is None
    # Flask-Admin's public readers see exactly what was stored.
    actions, confirmations = ModelView.get_actions_list(view)
    assert actions == [("ping", "Ping"), ("other", "Other")] and confirmations == {"ping": "Sure?"}


def test_before_view_runs_through_flask_admins_per_request_gate():
    from flask import Flask, abort
    from flask_admin import Admin, BaseView, expose

    from flask_admin.model import BaseModelView

    assert "_handle_view" in vars(BaseView) and "_get_filter_groups" in vars(BaseModelView)
    seen = []

    class Page(internals.BeforeViewHook, BaseView):
        def before_view(self, name):
            seen.append(name)
            if name == "secret":
                abort(404)
            return None

        @expose("/")
        def index(self):
            return "open"

        @expose("/secret")
        def secret(self):
            return "should not run"

    app = Flask("gate")
    Admin(app).add_view(Page(name="Page", endpoint="page"))
    client = app.test_client()
    assert client.get("/admin/page/").get_data(as_text=True) == "open"
    assert client.get("/admin/page/secret").status_code == 404
    assert seen == ["index", "secret"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_shown_filter_groups_decides_the_filters_the_list_offers(app, movies):
    with app.test_request_context("/admin/movies/"):
        offered = movies._get_filter_groups()
        everything = super(internals.FilterGroupsHook, movies)._get_filter_groups()
    assert offered and everything and set(offered) <= set(everything)
    assert all("index" in item for items in everything.values() for item in items)


# -- no library private name outside internals.py ---------------------------------------------

#: SQLAlchemy documents these underscored Row members as public (namedtuple style).
PUBLIC_UNDERSCORED = {"_mapping", "_asdict", "_fields", "_t", "_tuple"}


def _private(names) -> set[str]:
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def library_private_names() -> tuple[set[str], set[str]]:
    """(names our classes inherit and could override, every library private name we could
    reach): from dir() of the library classes the console subclasses or holds, and of a
    real Flask-Admin model view and WTForms form after their set-up."""
    import flask
    import sqlalchemy
    import wtforms
    from flask_admin import Admin, BaseView
    from flask_admin.actions import ActionsMixin
    from flask_admin.contrib.sqla import ModelView
    from flask_admin.model import BaseModelView
    from sqlalchemy.engine import Connection, Engine, Row
    from sqlalchemy.orm import Query

    view, _thing = _choices_view()
    with flask.Flask("names").test_request_context():
        view._refresh_filters_cache()

    class Probe(wtforms.Form):
        name = wtforms.StringField()

    form = Probe()
    # Class-level names (methods a subclass could override) and what a set-up view or form
    # holds on the instance (which only a subclass's ``self._x = ...`` could replace).
    inherited = _private(set(dir(ModelView)) | set(dir(BaseModelView)) | set(dir(BaseView)) | set(dir(ActionsMixin))
                         | set(dir(type(form))) | set(dir(wtforms.Field)) | set(dir(type(form.name)))
                         | set(dir(wtforms.SelectField)) | set(dir(Rule)))
    instance = _private(set(vars(view)) | set(vars(form)) | set(vars(form.name)))
    held = _private(set(dir(Admin)) | set(dir(flask.Flask)) | set(dir(flask.Blueprint)) | set(dir(Session()))
                    | set(dir(Query)) | set(dir(Connection)) | set(dir(Engine)) | set(dir(Row)) | set(dir(Map))
                    | set(dir(sqlalchemy.update(Table("t", MetaData(), Column("id", Integer))))))
    held |= inherited | instance | {"_flashes", "_action"}  # session["_flashes"]; @action's mark
    return inherited - PUBLIC_UNDERSCORED, instance - PUBLIC_UNDERSCORED, held - PUBLIC_UNDERSCORED


def private_uses(source: str, inherited: set[str], instance: set[str], held: set[str]) -> list[tuple[int, str]]:
    """(line, name) of every library private name ``source`` uses: ``x._name`` or ``"_name"``
    for a name the module does not define itself; a method defined in a class under a
    library class's private method name (an override); ``self._name = ...`` for a name a
    library class or its set-up instance holds."""
    import ast
    import io
    import tokenize

    tree = ast.parse(source)
    own, overrides = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in ast.walk(node):
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in inherited:
                    overrides.append((item.lineno, item.name))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            own.add(node.attr)
            on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if node.attr in inherited | instance and on_self:
                overrides.append((node.lineno, node.attr))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            own.add(node.id)
    found = list(overrides)
    previous = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and previous is not None and previous.string == "." \
                and token.string in held and token.string not in own:
            found.append((token.start[0], token.string))
        elif token.type == tokenize.STRING and token.string[1:-1] in held and token.string[1:-1] not in own:
            found.append((token.start[0], token.string[1:-1]))
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = token
    return sorted(set(found))


def test_no_library_private_name_outside_internals():
    inherited, instance, held = names = library_private_names()
    assert {"_handle_view", "_get_filter_groups", "_get_list_value", "_run_view", "_value"} <= inherited
    assert {"_filters", "_actions_data", "_column_choices_map"} <= instance
    assert {"_flushing", "_values", "_compile_builder", "_action"} <= held
    found = [f"{path.relative_to(ROOT)}:{line}: {name}" for path, text in _product_sources()
             for line, name in private_uses(text, *names)]
    assert found == [], "library private names belong in backoffice/core/internals.py:\n" + "\n".join(found)


def test_the_private_name_scan_catches_uses_and_overrides_and_spares_our_own():
    names = library_private_names()
    uses = private_uses("def f(view, s):\n    return view._filters[0], s._flushing, getattr(view, '_actions_data')\n",
                        *names)
    assert {name for _line, name in uses} == {"_filters", "_flushing", "_actions_data"}
    override = "class V(Base):\n    def _handle_view(self, name):\n        self._actions = []\n"
    assert {name for _line, name in private_uses(override, *names)} == {"_handle_view", "_actions"}
    ours = ("class Cache:\n    def __init__(self):\n        self._values = {}\n\n    def get(self, k):\n"
            "        return self._values[k], row._mapping  # not session._flushing\n")
    assert private_uses(ours, *names) == []


def test_search_runs_through_flask_admins_search_hook(tmp_path):
    import inspect

    from flask import Flask
    from flask_admin import Admin
    from flask_admin.contrib.sqla import ModelView
    from sqlalchemy import Column, Integer, String
    from sqlalchemy.orm import declarative_base, sessionmaker

    assert list(inspect.signature(ModelView._apply_search).parameters) == \
        ["self", "query", "count_query", "joins", "count_joins", "search"]
    Base = declarative_base()

    class Film(Base):
        __tablename__ = "film"
        id = Column(Integer, primary_key=True)
        title = Column(String)

    seen = []

    class Screen(internals.SearchHook, ModelView):
        column_searchable_list = ["title"]

        def apply_search(self, query, count_query, joins, count_joins, search):
            seen.append(search)
            return super().apply_search(query, count_query, joins, count_joins, search)

    from sqlalchemy import create_engine
    engine = create_engine(f"sqlite:///{tmp_path / 'f.db'}")
    Base.metadata.create_all(engine)
    session = sessionmaker(bind=engine)()
    session.add_all([Film(id=1, title="Harbour"), Film(id=2, title="Mountain")])
    session.commit()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "k"
    admin = Admin(app)
    view = Screen(Film, session)
    admin.add_view(view)
    assert len(internals.search_fields(view)) == 1  # (column, join path) of "title"
    with app.test_request_context("/admin/film/?search=harb"):
        count, rows = view.get_list(0, None, False, "harb", [])
    assert seen == ["harb"] and count == 1 and [r.title for r in rows] == ["Harbour"]


def test_view_class_bookkeeping_is_what_flask_admins_metaclass_sets_on_a_view_class():
    from flask_admin import BaseView, expose

    from backoffice.core.internals import VIEW_CLASS_BOOKKEEPING

    class Page(BaseView):
        @expose("/")
        def index(self):
            return "page"

    assert {name for name in VIEW_CLASS_BOOKKEEPING if name in vars(Page)} == VIEW_CLASS_BOOKKEEPING
    assert getattr(Page, "_default_view") == "index"
    assert ("/", "index", ("GET",)) in getattr(Page, "_urls")
