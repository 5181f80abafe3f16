"""Apply a ``[views.<table>]`` entry of the declarative file to a screen.

:func:`plan_screens` decides which screens exist (hidden ones do not), which class
each uses (a custom class from ``views/custom/`` wins over the generated one) and
their menu order. :func:`tuned_class` derives, per screen, a subclass carrying the
file's options as Flask-Admin attributes (Flask-Admin reads most of them once, in
its constructor), and :func:`finish` sets what the base constructor would
otherwise overwrite. Only options present in the file change anything: without a
file every screen keeps the safe generated defaults.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect as sa_inspect

from models.reflection import ReflectedTable, python_identifier

from views.base import ReflectedModelView
from views.checks import effective_views
from views.view_checker import sort_keys
from views.declared_actions import parse_actions
from views.formatters import build_formatter, build_link

__all__ = ["PlannedScreen", "plan_screens", "tuned_class", "finish", "build_screens", "DEFAULT_ORDER"]

#: Menu position of a screen the file does not order.
DEFAULT_ORDER = 100

_ROLES = (("create", "create_role", "can_create"), ("edit", "edit_role", "can_edit"),
          ("delete", "delete_role", "can_delete"))


@dataclass(frozen=True)
class PlannedScreen:
    """One screen to add to the Admin: its table, the class to use and the file's entry."""

    screen: str
    entry: ReflectedTable
    view_class: type
    spec: dict[str, Any]


def plan_screens(reflection, views: dict[str, Any], custom: list[tuple[str, type]]) -> list[PlannedScreen]:
    """Screens in menu order: by ``order``, then label; hidden tables are left out."""
    classes: dict[str, type] = {}
    for table, cls in custom:
        classes.setdefault(table, cls)  # a second claim is a check error; the first one wins
    planned = []
    specs = effective_views(views, reflection.tables)
    for screen, entry in reflection.tables.items():
        spec = specs.get(screen, {})
        if entry.model is None or spec.get("hidden") is True:
            continue
        planned.append(PlannedScreen(screen, entry, classes.get(screen, ReflectedModelView), spec))
    return sorted(planned, key=lambda p: (_int(p.spec.get("order"), DEFAULT_ORDER),
                                          str(p.spec.get("label") or p.screen).lower()))


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _attribute_names(entry: ReflectedTable) -> dict[str, str]:
    """Column name -> mapped attribute name (they differ when reflection renamed one)."""
    mapper = sa_inspect(entry.model)
    names = {}
    for column in entry.table.columns:
        try:
            names[column.name] = mapper.get_property_by_column(column).key
        except Exception:  # not mapped: use the column name, Flask-Admin will say so
            names[column.name] = column.name
    return names


def _relations_through(entry: ReflectedTable, columns: list[str]) -> set[str]:
    """Many-to-one relationships over a never-shown column: their select box would show it."""
    # entry.relations, not the mapper's: reading those would configure every mapper of the schema
    return {name for name, local in entry.relations.items() if any(c in columns for c in local)}


def _class_value(view_class: type, name: str) -> Any:
    """The value a screen class (ours or a custom one) gives a Flask-Admin option, or None
    when none of them sets it. Flask-Admin's own defaults for the options read here are
    None or empty, and some of them are descriptors on its classes: they are not read."""
    for klass in view_class.__mro__:
        if klass.__module__.split(".", 1)[0] == "flask_admin":
            return None
        if name in vars(klass):
            return vars(klass)[name]
    return None


def _without(values, never: set[str]) -> list | None:
    return None if values is None else [v for v in values if (v if isinstance(v, str) else None) not in never]


def tuned_class(view_class: type, entry: ReflectedTable, spec: dict[str, Any]) -> tuple[type, dict[str, Any]]:
    """A subclass of ``view_class`` with the file's options, and its constructor kwargs.

    ``never_show`` wins over everything, including a custom class's own lists.
    """
    if not spec:
        return view_class, {}
    attrs: dict[str, Any] = {}
    names = _attribute_names(entry)
    attr = lambda column: names.get(column, column)  # noqa: E731
    never = {attr(c) for c in spec.get("never_show", [])} | _relations_through(entry, spec.get("never_show", []))

    if "list" in spec:
        attrs["column_list"] = [attr(c) for c in spec["list"]]
    if "details" in spec:
        attrs["column_details_list"] = [attr(c) for c in spec["details"]]
    if "search" in spec:
        attrs["column_searchable_list"] = [attr(c) for c in spec["search"]]
    if isinstance(spec.get("fulltext"), str):
        attrs["fulltext_column"] = spec["fulltext"]  # a column name (views/fulltext.py)
    if isinstance(spec.get("fulltext_config"), str):
        attrs["fulltext_config"] = spec["fulltext_config"]
    if "filters" in spec:
        attrs["column_filters"] = [attr(c) for c in spec["filters"]]
    if "sortable" in spec:
        attrs["column_sortable_list"] = [attr(c) for c in spec["sortable"]]
    if never:
        attrs["never_show"] = frozenset(never)
        base = view_class
        for key in ("column_list", "column_details_list", "column_searchable_list", "column_filters",
                    "column_sortable_list", "column_export_list", "column_editable_list", "form_columns"):
            current = attrs.get(key, _class_value(base, key))
            if current is not None:
                attrs[key] = _without(current, never)
        for key in ("column_exclude_list", "column_details_exclude_list", "column_export_exclude_list",
                    "form_excluded_columns"):
            attrs[key] = [*(_class_value(base, key) or []), *sorted(never)]
    if "labels" in spec:
        attrs["column_labels"] = {**(_class_value(view_class, "column_labels") or {}),
                                  **{attr(c): label for c, label in spec["labels"].items()}}
    own_formatters = dict(_class_value(view_class, "column_formatters") or {})
    formatters = dict(own_formatters)
    for column, template in spec.get("links", {}).items():
        formatters[attr(column)] = build_link(template, names, attr(column))
    for column, formatter in spec.get("formatters", {}).items():
        formatters[attr(column)] = build_formatter(formatter, attr(column))
    if formatters != own_formatters:
        attrs["column_formatters"] = formatters
        if _class_value(view_class, "column_formatters_export") is None:
            # Exports carry raw values, not the HTML of links and badges.
            attrs["column_formatters_export"] = own_formatters
    if spec.get("actions"):
        attrs["declared_actions"] = parse_actions(spec)
    if "page_size" in spec:
        attrs["page_size"] = spec["page_size"]
    if "export" in spec:
        attrs["can_export"] = spec["export"]
        if not spec["export"]:
            attrs["export_role"] = None
    if "count" in spec:
        attrs["count_strategy"] = spec["count"]
    for key, role_attr, can_attr in _ROLES:
        if key in spec:
            attrs[role_attr] = None if spec[key] == "nobody" else spec[key]
            if spec[key] == "nobody":
                attrs[can_attr] = False
    if isinstance(spec.get("reason"), dict):  # read by views/safeguards.py
        attrs["reasons"] = dict(spec["reason"])
    for key in ("confirm_delete", "confirm_delete_seconds"):
        if key in spec:
            attrs[key] = spec[key]
    for key in ("revert", "revert_role", "approval", "approval_hours"):  # views/revert.py, views/approval_capture.py
        if key in spec:
            attrs[key] = spec[key]
    if spec.get("read_only") is True:
        for _key, role_attr, can_attr in _ROLES:
            attrs[role_attr] = None
            attrs[can_attr] = False

    kwargs = {}
    if "label" in spec:
        kwargs["name"] = spec["label"]
    if "category" in spec:
        kwargs["category"] = spec["category"]
    cls = type(f"{view_class.__name__}_{python_identifier(entry.name)}", (view_class,), attrs) if attrs else view_class
    return cls, kwargs


def _declared_sort(view_class: type) -> Any:
    """A column_default_sort a custom class set itself (the base constructor overwrites it)."""
    for klass in view_class.__mro__:
        if klass is ReflectedModelView:
            return None
        if "column_default_sort" in vars(klass):
            return vars(klass)["column_default_sort"]
    return None


def finish(view: ReflectedModelView, spec: dict[str, Any]) -> ReflectedModelView:
    """After construction: the default sort (primary key appended, so pages are stable)."""
    keys = sort_keys(spec.get("sort"))
    if keys:
        names = _attribute_names(view.entry)
        order = [(names.get(k.lstrip("-"), k.lstrip("-")), k.startswith("-")) for k in keys]
        taken = {name for name, _desc in order}
        order += [(names.get(pk, pk), False) for pk in view.entry.primary_key if names.get(pk, pk) not in taken]
        view.column_default_sort = order
    elif (declared := _declared_sort(type(view))) is not None:
        view.column_default_sort = declared
    return view


def build_screens(reflection, declarations, db, custom: list[tuple[str, type]],
                  owned: dict[str, dict[str, str]] | None = None) -> Iterator[ReflectedModelView]:
    """Every screen, tuned, in menu order (the registration loop of views/__init__.py).
    ``owned``: per screen, the columns a review queue owns (read-only here, with why)."""
    for planned in plan_screens(reflection, declarations.views, custom):
        cls, kwargs = tuned_class(planned.view_class, planned.entry, planned.spec)
        if owned and planned.screen in owned:
            kwargs = {**kwargs, "owned_columns": owned[planned.screen]}
        yield finish(cls(planned.entry, planned.screen, db, **kwargs), planned.spec)
