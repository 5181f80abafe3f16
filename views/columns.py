"""How each reflected column is shown, edited and filtered, decided once per type.

``column_plans(entry)`` is the single source of truth: the generated screens use it
(via :class:`ColumnsMixin`) and the reflection report prints it, so the report
always says exactly what a screen does with every column.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from flask_admin.tools import iterdecode, iterencode
from sqlalchemy import types as sqltypes
from sqlalchemy.exc import DBAPIError

from models.reflection import ReflectedTable

from . import fields as custom
from views.display import LIST_TEXT_LIMIT, display_value, formatter, link_targets

__all__ = ["ColumnPlan", "ColumnsMixin", "column_plans", "category_of", "label_for", "UNSORTABLE"]

MAX_FILTERS = 12
NULL_MARK = "\x00"

#: Categories that can be sorted and compared in SQL (json and unknown types cannot).
#: Categories a list cannot be sorted by (no ordering, or one that means nothing to an operator).
UNSORTABLE = frozenset({"json", "binary", "unknown", "tsvector"})
_FILTERABLE = {"integer", "numeric", "float", "boolean", "date", "datetime", "string", "text", "enum"}
_OVERRIDES = {"datetime": custom.IsoDateTimeField, "uuid": custom.UUIDField,
              "interval": custom.IntervalField, "network": custom.PlainTextField}


@dataclass
class ColumnPlan:
    """What the console does with one column."""

    name: str            # SQL name
    key: str             # mapped attribute / form field
    label: str
    type_name: str       # as the database declares it
    category: str
    editable: bool
    sortable: bool
    reason: str = ""     # why it is read-only or degraded ("" = fully supported)


def label_for(name: str) -> str:
    """``first_name``, ``FirstName``, ``zip code`` -> ``First name``; keeps non-ASCII text."""
    spaced = name.replace("_", " ").strip()
    out = []
    for i, ch in enumerate(spaced):
        if i and ch.isupper() and spaced[i - 1].islower():
            out.append(" ")
        out.append(ch)
    text = " ".join("".join(out).split())
    if text.upper() == text and len(text) > 3:
        text = text.lower()  # SHOUTING_NAMES read better in sentence case
    words = text.split(" ")
    words = [w if (w.isupper() and len(w) <= 3) else w.lower() for w in words]
    text = " ".join(words) or name
    return text[:1].upper() + text[1:]


def category_of(column) -> str:
    """One of integer numeric float boolean date datetime time interval uuid json array
    enum binary tsvector network string text unknown."""
    kind = column.type
    name = type(kind).__name__.upper()
    if isinstance(kind, sqltypes.Enum):
        return "enum"
    if isinstance(kind, sqltypes.Boolean):
        return "boolean"
    if isinstance(kind, sqltypes.Integer):
        return "integer"
    if isinstance(kind, sqltypes.Float) or name in ("REAL", "DOUBLE", "DOUBLE_PRECISION", "FLOAT"):
        return "float"
    if isinstance(kind, sqltypes.Numeric):
        return "numeric"
    if isinstance(kind, sqltypes.DateTime):
        return "datetime"
    if isinstance(kind, sqltypes.Date):
        return "date"
    if isinstance(kind, sqltypes.Time):
        return "time"
    if isinstance(kind, sqltypes.Interval) or name == "INTERVAL":
        return "interval"
    if isinstance(kind, sqltypes.Uuid) or name == "UUID":
        return "uuid"
    if isinstance(kind, sqltypes.JSON):
        return "json"
    if isinstance(kind, sqltypes.ARRAY):
        return "array"
    if isinstance(kind, sqltypes._Binary):
        return "binary"
    if name == "TSVECTOR":
        return "tsvector"
    if name in ("INET", "CIDR", "MACADDR", "MACADDR8"):
        return "network"
    if isinstance(kind, sqltypes.Text) or (isinstance(kind, sqltypes.String) and not kind.length):
        return "text"
    if isinstance(kind, sqltypes.String):
        return "string"
    return "unknown"


def _type_name(column) -> str:
    try:
        return str(column.type)
    except Exception:  # some reflected types cannot compile without a dialect
        return type(column.type).__name__


def _read_only_reason(column, category: str, entry: ReflectedTable) -> str:
    if entry.read_only:
        return ""  # the whole screen is read-only; the table note says why
    if column.computed is not None:
        return "generated column: computed by the database"
    if column.identity is not None and column.identity.always:
        return "identity column GENERATED ALWAYS: assigned by the database"
    if category == "binary":
        return "binary data: shown as its size, never edited in a form"
    if category == "tsvector":
        return "tsvector: derived from other columns (usually by a trigger)"
    if category == "unknown":
        return f"type {_type_name(column)} has no safe form field"
    if category == "array":
        item = category_of(type("c", (), {"type": column.type.item_type})())
        if item not in ("string", "text", "integer"):
            return f"array of {item}: no safe form field"
    return ""


def column_plans(entry: ReflectedTable) -> list[ColumnPlan]:
    """A plan for every column of ``entry``, in table order."""
    plans = []
    for column in entry.table.columns:
        category = category_of(column)
        reason = _read_only_reason(column, category, entry)
        note = ""
        if not reason and category == "array":
            note = "edited as tags: elements must not contain commas"
        elif not reason and category == "interval":
            note = "edited as '[N days,] H:MM:SS'; months are read as 30 days"
        plans.append(ColumnPlan(
            name=column.name, key=column.key, label=label_for(column.name), type_name=_type_name(column),
            category=category, editable=not entry.read_only and not reason,
            sortable=category not in UNSORTABLE,
            reason=reason or note,
        ))
    return plans


class ColumnsMixin:
    """Fills list, detail, form and filter options of a ReflectedModelView from
    :func:`column_plans`. Runs before Flask-Admin scaffolds anything (it needs
    ``self.entry``, which the view sets before calling ``super().__init__``).
    Options a maintainer already set (class attributes, the declarative file) win.
    """

    #: Attribute names never shown anywhere (the file's ``never_show``): left out of
    #: every generated list, filter, form and export.
    never_show: frozenset[str] = frozenset()

    def __init__(self, model, *args, **kwargs):
        entry: ReflectedTable = self.entry
        plans = [p for p in column_plans(entry) if p.key not in self.never_show]
        self.column_plans = plans
        links = link_targets(entry, model)
        self.column_labels = {**{p.key: p.label for p in plans}, **(self.column_labels or {})}
        for rel in model.__mapper__.relationships:
            self.column_labels.setdefault(rel.key, label_for(rel.key))
        if self.column_default_sort == [(name, False) for name in entry.primary_key]:
            # the base view's key order, in SQL names; sorting needs attribute names
            self.column_default_sort = [(key, False) for key in entry.primary_key_attributes]
        if self.column_list is None:
            self.column_list = [p.key for p in plans]
        if self.column_details_list is None:
            self.column_details_list = [p.key for p in plans]
        # Derived, not declared: on a large table only indexed ones are offered (views/indexed.py).
        self.sortable_defaulted = self.column_sortable_list is None
        self.filters_defaulted = self.column_filters is None
        if self.column_sortable_list is None:
            self.column_sortable_list = [p.key for p in plans if p.sortable]
        own = dict(self.column_formatters or {})  # a custom class's or the file's: they win everywhere
        self.column_formatters = {
            **{p.key: formatter(p, links.get(p.key), LIST_TEXT_LIMIT) for p in plans}, **own}
        self.column_formatters_detail = {
            **{p.key: formatter(p, links.get(p.key), None) for p in plans}, **own,
            **(self.column_formatters_detail or {})}
        if self.column_formatters_export is None:
            self.column_formatters_export = {
                p.key: (lambda _v, _c, m, _n, p=p: display_value(getattr(m, p.key), p.category, None)) for p in plans}
            # The streaming export applies the same display_value to rows read as tuples (views/export.py).
            self.export_categories = {p.key: p.category for p in plans}
        if self.column_filters is None:
            self.column_filters = self._filterable(plans)[:MAX_FILTERS]
        if not entry.read_only and self.form_columns is None:
            self.form_columns = self._form_columns(model, plans)
        if not entry.read_only and self.form_ajax_refs is None:
            self.form_ajax_refs = _ajax_refs(model)
        self.form_overrides = {**{p.key: _OVERRIDES[p.category] for p in plans
                                  if p.editable and p.category in _OVERRIDES}, **(self.form_overrides or {})}
        super().__init__(model, *args, **kwargs)

    def _filterable(self, plans: list[ColumnPlan]) -> list[str]:
        chosen = []
        for plan in plans:
            column = self.entry.table.c[plan.key]
            if plan.category not in _FILTERABLE:
                continue
            try:
                if self.filter_converter.convert(type(column.type).__name__, column, plan.label):
                    chosen.append(plan.key)
            except Exception:  # a type Flask-Admin cannot filter on: offer no filter
                continue
        return chosen

    def _form_columns(self, model, plans: list[ColumnPlan]) -> list[str]:
        """Editable plain columns, plus one select per many-to-one relationship (which
        replaces its foreign-key columns). Primary keys the database does not assign
        are entered on create; they are never changed on edit."""
        covered = set()
        relations = []
        for rel in model.__mapper__.relationships:
            relations.append(rel.key)
            covered.update(c.key for c in rel.local_columns)
        pk = set(self.entry.primary_key_attributes)
        columns = []
        for plan in plans:
            column = self.entry.table.c[plan.key]
            if not plan.editable or plan.key in covered:
                continue
            if plan.key in pk and (column.server_default is not None or column.identity is not None
                                   or _rowid_alias(self.entry, column)):
                continue
            columns.append(plan.key)
        # Flask-Admin ignores form_excluded_columns once form_columns is set: apply it here.
        excluded = set(self.form_excluded_columns or ()) | set(self.never_show)
        return [key for key in columns + relations if key not in excluded]

    def get_edit_form(self):
        form = super().get_edit_form()
        for key in self.entry.primary_key_attributes:
            if key in form.__dict__:
                delattr(form, key)
        return form

    def get_pk_value(self, model):
        """The row's identity for URLs; NULL (possible in the key of a view) travels as
        a NUL character, which PostgreSQL text can never contain."""
        values = [getattr(model, key) for key in self.entry.primary_key_attributes]
        if len(values) == 1 and values[0] is not None:
            return super().get_pk_value(model)
        return iterencode(NULL_MARK if v is None else v for v in values)

    def get_one(self, id):
        """Look a row up with its identity converted to the column types (the URL
        carries text; SQLite and timestamp keys do not compare text with values)."""
        values = iterdecode(id)
        columns = [self.entry.table.c[k] for k in self.entry.primary_key_attributes]
        if len(values) != len(columns):
            return None
        try:
            ident = [None if v == NULL_MARK else _coerce(v, c) for v, c in zip(values, columns)]
        except (ValueError, TypeError, ArithmeticError):
            return None
        session = getattr(self.session, "session", self.session)  # a Flask-SQLAlchemy db or a session
        if None not in ident:
            return session.get(self.model, tuple(ident) if len(ident) > 1 else ident[0])
        conditions = [getattr(self.model, c.key).is_(None) if v is None else getattr(self.model, c.key) == v
                      for v, c in zip(ident, columns)]
        return session.query(self.model).filter(*conditions).first()


def _ajax_refs(model) -> dict:
    """Related-row selects search as you type instead of loading the whole related table
    into the page (a million movies must not end up in one <select>). Needs a one-column
    key and text columns to search; other relations keep a plain select."""
    refs = {}
    for rel in model.__mapper__.relationships:
        target = rel.mapper
        fields = [k for k in getattr(target.class_, "__label_keys__", ())
                  if isinstance(target.columns[k].type, sqltypes.String)]
        if len(target.primary_key) == 1 and fields:
            refs[rel.key] = {"fields": fields, "page_size": 20}
    return refs


def _rowid_alias(entry: ReflectedTable, column) -> bool:
    """SQLite assigns an INTEGER PRIMARY KEY itself (it is the rowid)."""
    return (entry.dialect == "sqlite" and len(entry.primary_key) == 1 and isinstance(column.type, sqltypes.Integer)
            and column.autoincrement in (True, "auto"))


def _coerce(text: str, column):
    category = category_of(column)
    if category == "integer":
        return int(text)
    if category == "numeric":
        return Decimal(text)
    if category == "float":
        return float(text)
    if category == "datetime":
        return datetime.fromisoformat(text)
    if category == "date":
        return date.fromisoformat(text)
    if category == "time":
        return time.fromisoformat(text)
    if category == "uuid":
        return uuid.UUID(text)
    if category == "boolean":
        return text in ("True", "true", "1", "t")
    return text


def _refused_reading(exc: DBAPIError) -> bool:
    """The database answered but refused this relation (not populated, no permission,
    missing object), as opposed to being unreachable or cancelling a slow query."""
    if exc.connection_invalidated:
        return False
    code = getattr(exc.orig, "pgcode", None)
    if code is not None:
        return not code.startswith(("08", "57"))  # connection exceptions, cancels and shutdowns
    return "no such" in str(exc.orig)  # SQLite: a table or column that is gone
