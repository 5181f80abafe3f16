"""The few places where the console relies on another library's private names.

Everything here is a last resort: a public API does not exist for it (yet). Each
item is one small function or class with a docstring saying what it relies on and
why, and ``tests/test_internals.py`` has a test per item that fails loudly when an
upgrade changes it. Nothing else in the project may touch a library's ``_private`` name.
"""
from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule

__all__ = ["LazyBuildRule", "session_is_flushing", "update_values", "list_arguments", "column_by_index",
           "export_columns", "list_filter", "list_filters", "list_url", "column_choices", "list_value_is_flask_admins",
           "action_declaration", "set_actions", "action_handler", "BeforeViewHook", "FilterGroupsHook",
           "SearchHook", "search_fields", "RunViewOnce", "WidgetText", "VIEW_CLASS_BOOKKEEPING"]

#: What Flask-Admin's view metaclass stores on every view class: the exposed URLs and the
#: default view's name, read when the view's blueprint is registered and by its menu entry.
#: A screen built on first use (views/deferral.py) answers them before it is built.
VIEW_CLASS_BOOKKEEPING = frozenset({"_urls", "_default_view"})


class LazyBuildRule(Rule):
    """A Werkzeug rule whose URL builders are compiled on first use (``Flask.url_rule_class``).

    Werkzeug calls ``_compile_builder`` twice from ``Rule.compile`` (with and without
    appending unknown arguments as a query string) and keeps the results as
    ``_build`` / ``_build_unknown``. Overriding that one hook is the narrowest way to
    defer the work: matching, endpoints and the built URLs are Werkzeug's own. Should
    a Werkzeug release rename the hook, this override is simply never called and rules
    compile eagerly again (slower start-up, same behaviour); a test notices.

    Thread safety: two threads building the same rule's first URL at once may both
    compile it; both results are identical and the later assignment wins.
    """

    def _compile_builder(self, append_unknown: bool = True):
        compile_now = super()._compile_builder
        compiled = None

        def build(rule, **values):
            nonlocal compiled
            if compiled is None:
                compiled = compile_now(append_unknown)
            return compiled(rule, **values)

        return build




# -- audit pipeline (audit_hooks) ------------------------------------------------------------

def session_is_flushing(session: Any) -> bool:
    """True while ``session`` (a SQLAlchemy ORM Session) is inside ``flush()``.

    Relies on ``Session._flushing``. The audit guard lets DML reach a reflected table
    only while the application's session flushes (the collector audits that flush);
    SQLAlchemy offers no public flag for it.
    """
    return bool(session._flushing)


def update_values(statement: Any) -> dict:
    """The ``SET`` clause of a Core/ORM ``update()`` construct (column or name -> value).

    Relies on ``ValuesBase._values``. The collector refuses a bulk UPDATE of a primary
    key (it could not audit the row under its old and new key); the construct exposes
    its values only through this attribute. ``{}`` for ``delete()``.
    """
    return dict(getattr(statement, "_values", None) or {})


# -- Flask-Admin 2.2 BaseModelView: what the streaming export (views/export.py) reads ------

def list_arguments(view: Any) -> Any:
    """The list URL's parsed arguments (page, sort index, sort_desc, search, filters as
    ``(index, name, value)``): ``BaseModelView._get_list_extra_args()``. The export must
    narrow exactly as the list does, and Flask-Admin parses them nowhere else."""
    return view._get_list_extra_args()


def column_by_index(view: Any, index: Any) -> tuple[str, str] | None:
    """``(column name, label)`` of the sortable column the list URL's ``sort`` index means:
    ``BaseModelView._get_column_by_idx()``."""
    return view._get_column_by_idx(index)


def export_columns(view: Any) -> list[tuple[str, str]]:
    """``(name, label)`` of the exported columns, as Flask-Admin resolved them from
    ``column_export_list`` / ``column_export_exclude_list``: ``BaseModelView._export_columns``."""
    return view._export_columns


def list_filter(view: Any, index: int) -> Any:
    """The filter object a list URL's ``flt<n>_<index>`` argument applies:
    ``BaseModelView._filters[index]``."""
    return view._filters[index]


def list_url(view: Any, args: Any) -> str:
    """The list URL for ``args`` (a ``ViewArgs``, e.g. :func:`list_arguments` ``.clone(...)``),
    filters written back as ``flt<n>_<name>``: ``BaseModelView._get_list_url()``. The keyset
    pager's links must carry the list's filters exactly as Flask-Admin spells them."""
    return view._get_list_url(args)


# -- Flask-Admin 2.2 BaseModelView: how a list cell gets its value (views/rowactions.py) -----

def column_choices(view: Any, name: str) -> dict:
    """``{stored value: shown text}`` of column ``name`` (empty when it has no choices), as
    Flask-Admin built it from ``column_choices``: ``BaseModelView._column_choices_map``."""
    return view._column_choices_map.get(name, {})


def list_value_is_flask_admins(cls: type) -> bool:
    """True when ``cls`` gets its list cells' values exactly as ``BaseModelView`` does
    (``get_list_value`` -> ``_get_list_value`` -> ``_get_field_value``, none overridden), so
    a copy of that path (the fast rows) renders the same text."""
    from flask_admin.model import BaseModelView

    return all(getattr(cls, name) is getattr(BaseModelView, name)
               for name in ("get_list_value", "_get_list_value", "_get_field_value"))


# -- Flask-Admin 2.2 sqla ModelView: how the list's page query is built (views/page_query.py)

def page_query_is_flask_admins(cls: type) -> bool:
    """True when ``cls`` builds a list page's query exactly as Flask-Admin's sqla
    ``ModelView`` does (``get_query``, ``get_count_query`` and the ``_apply_sorting`` /
    ``_apply_pagination`` / ``_order_by`` steps, none overridden): the query then depends on
    the view's configuration and the page's arguments only."""
    from flask_admin.contrib.sqla import ModelView

    return all(getattr(cls, name, None) is getattr(ModelView, name, None)
               for name in ("get_query", "get_count_query", "_apply_sorting", "_apply_pagination",
                            "_apply_path_joins", "_order_by"))


def list_configuration(view: Any) -> tuple:
    """What Flask-Admin's ``_refresh_cache`` rebuilds when a view's list configuration
    changes (its list columns and their sort expressions): new objects after each rebuild."""
    return view._sortable_columns, view._list_columns


# -- Flask-Admin 2.2 ActionsMixin: the list's batch actions (views/base.py, views/access.py) -

def action_declaration(value: Any) -> tuple[str, str, str | None] | None:
    """``(name, text, confirmation)`` when ``value`` was decorated with Flask-Admin's
    ``@action``, else None: the decorator stores it as the function attribute ``_action``
    and offers no reader."""
    return getattr(value, "_action", None)


def set_actions(view: Any, actions: list[tuple[str, str, Any, str | None]]) -> None:
    """Give ``view`` its batch actions, ``(name, text, handler, confirmation)`` in order, where
    ``ActionsMixin.init_actions`` would have put them (``_actions``, ``_actions_data``): the
    documented hook is ``init_actions`` itself, which only knows ``@action`` methods."""
    view._actions = [(name, text) for name, text, _handler, _confirmation in actions]
    view._actions_data = {name: (handler, text, confirmation) for name, text, handler, confirmation in actions}


def action_handler(view: Any, name: str) -> Any:
    """The bound handler of batch action ``name`` (None when the view has no such action):
    ``ActionsMixin._actions_data``. ``get_actions_list`` filters by ``is_action_allowed``,
    which is what asks for the handler."""
    return getattr(view, "_actions_data", {}).get(name, (None,))[0]


def list_filters(view: Any) -> list:
    """Every filter object of a list, in the order its URL indexes them
    (``flt<n>_<index>``): ``BaseModelView._filters``. A record page links to a list
    filtered to the rows referencing the record through these same filters."""
    return list(view._filters or ())


# -- screens (views) -------------------------------------------------------------------------

class RunViewOnce:
    """Mixin for Flask-Admin views: a view function runs once, with the arguments of its URL.

    Flask-Admin's ``BaseView._run_view`` calls ``fn(self, *args, **kwargs)`` and, on *any*
    ``TypeError`` raised inside the view, calls it a second time as ``fn(cls=self, **kwargs)``
    (a compatibility path for old view signatures). A TypeError from the view's own work
    (a value of an unexpected type in a query) then runs the view twice, and the second
    call fails differently: the log shows that second error and the original cause is
    lost. Overriding the hook keeps the first exception and the single call. Should a
    Flask-Admin release rename the hook, ``tests/test_internals.py`` fails.
    """

    def _run_view(self, fn, *args, **kwargs):
        return fn(self, *args, **kwargs)


class BeforeViewHook:
    """Mixin for Flask-Admin views (before ``BaseView`` in the bases): ``before_view(name)``
    runs before every exposed method, ahead of Flask-Admin's ``is_accessible`` check.

    Flask-Admin's only per-request gate is the underscored ``BaseView._handle_view(name,
    **kwargs)``; a non-None return ends the request with that response. Parts implement the
    public :meth:`before_view` (raise ``abort(404)``, or return a response) instead.
    """

    def before_view(self, name: str) -> Any:
        """Called with the exposed method's name; a non-None result is the response."""
        return None

    def _handle_view(self, name, **kwargs):
        response = self.before_view(name)
        if response is not None:
            return response
        return super()._handle_view(name, **kwargs)  # type: ignore[misc]


class SearchHook:
    """Mixin for Flask-Admin SQLAlchemy model views: ``apply_search(...)`` decides how the
    list's search box narrows the query (and its count query).

    Flask-Admin applies the search in the underscored ``ModelView._apply_search(query,
    count_query, joins, count_joins, search)`` and returns the four back; there is no public
    hook between the box's words and the query. Parts override :meth:`apply_search` and call
    ``super().apply_search(...)`` for Flask-Admin's own contains-search.
    """

    def apply_search(self, query, count_query, joins, count_joins, search):
        return super()._apply_search(query, count_query, joins, count_joins, search)  # type: ignore[misc]

    def _apply_search(self, query, count_query, joins, count_joins, search):
        return self.apply_search(query, count_query, joins, count_joins, search)


def search_fields(view) -> list:
    """The columns Flask-Admin's contains-search runs over (``init_search`` fills the
    underscored ``_search_fields``; empty when the screen has none)."""
    return list(getattr(view, "_search_fields", None) or [])


class FilterGroupsHook:
    """Mixin for Flask-Admin model views: ``shown_filter_groups(groups)`` narrows the filters
    the list offers (``OrderedDict`` label -> entries, each with its ``index`` into the
    view's filters, see :func:`list_filter`).

    Flask-Admin renders the filter menu from ``BaseModelView._get_filter_groups()``; there
    is no public hook between the filters it knows (which stay valid in URLs) and the ones
    it shows.
    """

    def shown_filter_groups(self, groups: Any) -> Any:
        return groups

    def _get_filter_groups(self):
        groups = super()._get_filter_groups()  # type: ignore[misc]
        return self.shown_filter_groups(groups) if groups else groups


class WidgetText:
    """Mixin for WTForms fields (before the field class in the bases): ``widget_text()`` is
    the text the input widget shows.

    WTForms' widgets read it from the underscored ``Field._value()`` (its documentation
    tells custom fields to override that); there is no public name for it.
    """

    def widget_text(self) -> str:
        return super()._value()  # type: ignore[misc]

    def _value(self) -> str:
        return self.widget_text()

