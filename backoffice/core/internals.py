"""The few places where the console relies on another library's private names.

Everything here is a last resort: a public API does not exist for it (yet). Each
item is one small function with a docstring saying what it relies on and why, and
``tests/test_internals.py`` has a test per item that fails loudly when an upgrade
changes it. Nothing else in the project may touch a library's ``_private`` name.
"""
from __future__ import annotations

from typing import Any

__all__: list[str] = ["list_arguments", "column_by_index", "export_columns", "list_filter"]


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
