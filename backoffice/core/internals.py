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
           "export_columns", "list_filter", "RunViewOnce"]


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
