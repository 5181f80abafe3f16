"""Start-up shortcuts (backoffice/startup.py, views/startup.py) change nothing but the time.

URL builders compiled on first use build exactly Werkzeug's URLs (also from two
threads at once), the garbage collector is back on after ``create_app()`` whatever
happens, and the cached action scan finds exactly Flask-Admin's actions.
"""
from __future__ import annotations

import gc
import threading
import weakref

import pytest
from flask import url_for
from flask_admin.actions import ActionsMixin, action
from werkzeug.routing import BuildError, Map, Rule

from backoffice.core.declarations import DeclarationError
from backoffice.web.startup import LazyBuildRule, collector_paused
from views.base import ReflectedModelView
from views.startup import class_action_names

RULES = [
    ("/admin/movies/", "movies.index_view", None),
    ("/admin/movies/export/<export_type>/", "movies.export", None),
    ("/admin/zip code/details/", "zip.details_view", None),
    ("/static/<path:filename>", "static", None),
    ("/page/<int:number>", "page", None),
    ("/page/", "page", {"number": 1}),
    ("/admin/größe/<uuid:key>/<any(a, b):which>", "odd", None),
]

BUILDS = [
    ("movies.index_view", {}),
    ("movies.index_view", {"page": "2", "sort": "a b", "flt": ["1", "2"]}),
    ("movies.export", {"export_type": "csv"}),
    ("movies.export", {"export_type": "a/b c", "extra": "é"}),
    ("zip.details_view", {"id": "1,2"}),
    ("static", {"filename": "css/x y.css"}),
    ("page", {"number": 7}),
    ("page", {"number": 1}),
    ("page", {}),
    ("odd", {"key": "12345678-1234-5678-1234-567812345678", "which": "b"}),
    ("odd", {"key": "12345678-1234-5678-1234-567812345678", "which": "c"}),  # no rule fits
    ("movies.export", {}),  # a missing argument
]


def _built(rule_class, endpoint, values, append_unknown=True):
    adapter = Map([rule_class(path, endpoint=ep, defaults=d) for path, ep, d in RULES]).bind("example.org")
    try:
        return adapter.build(endpoint, values, append_unknown=append_unknown)
    except (BuildError, ValueError) as exc:  # no rule fits / a converter refuses the value
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("endpoint, values", BUILDS)
@pytest.mark.parametrize("append_unknown", [True, False])
def test_lazy_rules_build_exactly_the_urls_werkzeug_builds(endpoint, values, append_unknown):
    assert _built(LazyBuildRule, endpoint, values, append_unknown) == _built(Rule, endpoint, values, append_unknown)


def test_a_builder_is_compiled_on_first_use_only():
    compiled = []

    class Counting(Rule):  # the eager hook, counted
        def _compile_builder(self, append_unknown=True):
            compiled.append((self.rule, append_unknown))
            return super()._compile_builder(append_unknown)

    class LazyCounting(LazyBuildRule, Counting):
        pass

    adapter = Map([LazyCounting(p, endpoint=e, defaults=d) for p, e, d in RULES]).bind("example.org")
    assert adapter.match("/admin/movies/export/csv/") == ("movies.export", {"export_type": "csv"})
    assert compiled == []  # matching requests never needs a builder
    for _ in range(3):
        assert adapter.build("movies.export", {"export_type": "csv"}) == "/admin/movies/export/csv/"
    assert compiled == [("/admin/movies/export/<export_type>/", True)]  # compiled once, then reused
    # Werkzeug still has the hook this relies on (a rename would silently make rules eager again).
    assert "_compile_builder" in vars(Rule)


def test_the_console_uses_lazy_rules_and_first_urls_built_from_two_threads_agree(make_app):
    app = make_app()
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("table_")]
    assert len(rules) > 50 and all(isinstance(r, LazyBuildRule) for r in rules)
    wanted = [(r.endpoint, {name: "7" for name in r.arguments}) for r in rules]
    barrier = threading.Barrier(2)
    results, failures = [], []

    def build_all():
        try:
            with app.test_request_context("/admin/"):
                barrier.wait(timeout=30)
                results.append([url_for(endpoint, **values) for endpoint, values in wanted])
        except Exception as exc:  # reported below: an assertion in a thread would be lost
            failures.append(exc)

    threads = [threading.Thread(target=build_all) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert results[0] == results[1]
    expected = dict(zip((e for e, _ in wanted), results[0]))
    assert expected["table_movies.index_view"] == "/admin/movies/"
    assert expected["table_movies.export"] == "/admin/movies/export/7/"
    # and the pages that build hundreds of links render
    client = app.test_client()
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/movies/").status_code == 200


def test_the_collector_is_paused_inside_and_start_up_garbage_goes_at_the_next_full_collection():
    assert gc.isenabled()

    class Node:
        pass

    with collector_paused():
        assert not gc.isenabled()
        node = Node()
        node.cycle = node  # only the cyclic collector can free this
        alive = weakref.ref(node)
        del node
        kept = Node()
        kept.cycle = kept
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0  # nothing is left frozen: it would never be freed
    gc.collect(0)
    assert alive() is not None  # moved past the young generations, unscanned
    gc.collect()
    assert alive() is None
    assert kept.cycle is kept


def test_objects_frozen_before_stay_frozen_and_the_block_is_collected_at_once():
    class Node:
        pass

    gc.freeze()  # as gunicorn's pre_fork does before a worker builds its console
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            node = Node()
            node.cycle = node
            alive = weakref.ref(node)
            del node
        assert alive() is None
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_the_collector_stays_off_when_the_caller_had_turned_it_off():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_create_app_leaves_the_collector_on_even_when_start_up_fails(make_app, tmp_path):
    make_app()
    assert gc.isenabled()
    bad = tmp_path / "backoffice.toml"
    bad.write_text("[views.no_such_table]\nlabel = 'x'\n")
    with pytest.raises(DeclarationError):
        make_app(BACKOFFICE_CONFIG=str(bad))
    assert gc.isenabled()


class WithActions(ReflectedModelView):
    @action("archive", "Archive", "Archive the selected rows?")
    def action_archive(self, ids):
        return None

    @action("delete", "Remove", None)  # replaces the inherited bulk delete
    def action_delete(self, ids):
        return None


def _flask_admins(view):
    """What Flask-Admin's own scan finds for ``view``."""
    mine = (list(view._actions), dict(view._actions_data))
    ActionsMixin.init_actions(view)
    return mine, (list(view._actions), dict(view._actions_data))


def test_cached_action_scan_finds_what_flask_admin_finds(app):
    views = [v for v in app.extensions["backoffice.admin"]._views if isinstance(v, ReflectedModelView)]
    assert len(views) >= 5
    for view in views:
        mine, theirs = _flask_admins(view)
        assert mine == theirs
    assert [name for name, _text in views[0]._actions] == ["delete"]

    entry = app.extensions["backoffice.reflection"].tables["genres"]
    custom = WithActions(entry, "genres", app.extensions["backoffice.db"], endpoint="x_genres", url="/x/genres")
    assert class_action_names(WithActions) == {"action_archive", "action_delete"}
    mine, theirs = _flask_admins(custom)
    assert mine == theirs and [n for n, _t in mine[0]] == ["archive", "delete"]
    assert mine[1]["delete"][1] == "Remove"

    # an action set on the instance itself is found too (Flask-Admin looks at the instance first)
    @action("zap", "Zap", None)
    def zap(ids):
        return None

    custom.action_zap = zap
    custom.init_actions()
    mine, theirs = _flask_admins(custom)
    assert mine == theirs and [n for n, _t in mine[0]] == ["archive", "delete", "zap"]
