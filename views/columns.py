"""How each reflected column is shown, edited and filtered, decided once per type.

``column_plans(entry)`` is the single source of truth: the generated screens use it
(``views/presentation.py`` turns it into Flask-Admin's column options) and the
reflection report prints it, so the report always says exactly what a screen does
with every column.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import types as sqltypes

from models.reflection import ReflectedTable

from views import fields as custom

__all__ = ["ColumnPlan", "column_plans", "category_of", "label_for", "filterable", "form_columns",
           "form_overrides", "ajax_refs", "UNSORTABLE", "MAX_FILTERS"]

MAX_FILTERS = 12

#: Categories that can be sorted and compared in SQL (json and unknown types cannot).
#: Categories a list cannot be sorted by (no ordering, or one that means nothing to an operator).
UNSORTABLE = frozenset({"json", "binary", "unknown", "tsvector"})
_FILTERABLE = {"integer", "numeric", "float", "boolean", "date", "datetime", "string", "text", "enum"}
_OVERRIDES = {"datetime": custom.IsoDateTimeField, "date": custom.IsoDateField, "time": custom.IsoTimeField,
              "uuid": custom.UUIDField, "interval": custom.IntervalField, "network": custom.PlainTextField,
              "json": custom.JSONValueField}


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
    if isinstance(kind, (sqltypes.LargeBinary, sqltypes.BINARY, sqltypes.VARBINARY)):
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
            note = 'edited as a JSON list (["a,b", null, ""]): every element round-trips'
        elif not reason and category == "interval":
            note = "edited as '[N days,] H:MM:SS'; months are read as 30 days"
        plans.append(ColumnPlan(
            name=column.name, key=column.key, label=label_for(column.name), type_name=_type_name(column),
            category=category, editable=not entry.read_only and not reason,
            sortable=category not in UNSORTABLE,
            reason=reason or note,
        ))
    return plans


def filterable(plans: list[ColumnPlan], entry: ReflectedTable, converter) -> list[str]:
    """Keys of the columns Flask-Admin's ``converter`` can filter on (at most :data:`MAX_FILTERS`)."""
    chosen = []
    for plan in plans:
        column = entry.table.c[plan.key]
        if plan.category not in _FILTERABLE:
            continue
        try:
            if converter.convert(type(column.type).__name__, column, plan.label):
                chosen.append(plan.key)
        except Exception:  # a type Flask-Admin cannot filter on: offer no filter
            continue
    return chosen[:MAX_FILTERS]


def form_columns(entry: ReflectedTable, model, plans: list[ColumnPlan], excluded: set[str]) -> list[str]:
    """Editable plain columns, plus one select per many-to-one relationship (which
    replaces its foreign-key columns). Primary keys the database does not assign
    are entered on create; they are never changed on edit. ``excluded`` is left out
    (Flask-Admin ignores ``form_excluded_columns`` once ``form_columns`` is set)."""
    covered = set()
    relations = []
    for rel in model.__mapper__.relationships:
        relations.append(rel.key)
        covered.update(c.key for c in rel.local_columns)
    pk = set(entry.primary_key_attributes)
    columns = []
    for plan in plans:
        column = entry.table.c[plan.key]
        if not plan.editable or plan.key in covered:
            continue
        if plan.key in pk and (column.server_default is not None or column.identity is not None
                               or _rowid_alias(entry, column)):
            continue
        columns.append(plan.key)
    return [key for key in columns + relations if key not in excluded]


def form_overrides(plans: list[ColumnPlan], entry: ReflectedTable) -> dict[str, type]:
    """Form fields for the types whose values must survive an unchanged save exactly:
    ISO dates and times, JSON that renders empty lists as themselves, arrays as JSON
    lists, and yes / no / empty for a nullable boolean (a checkbox cannot say NULL)."""
    chosen = {}
    for plan in plans:
        column = entry.table.c[plan.key]
        if not plan.editable:
            continue
        if plan.category == "array":
            item = category_of(type("c", (), {"type": column.type.item_type})())
            chosen[plan.key] = custom.IntegerArrayField if item == "integer" else custom.ArrayField
        elif plan.category == "boolean" and column.nullable:
            chosen[plan.key] = custom.NullableBooleanField
        elif plan.category in _OVERRIDES:
            chosen[plan.key] = _OVERRIDES[plan.category]
    return chosen


def ajax_refs(model) -> dict:
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
