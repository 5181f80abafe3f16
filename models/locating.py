"""Which columns find a row again, when the relation has no primary key.

In order of preference: a primary key; a unique key of NOT NULL columns; the row
identity the database keeps itself (SQLite's ``rowid``, unless ``WITHOUT ROWID``,
which gives full CRUD; PostgreSQL's ``ctid``, which locates but is no key, so the
screen is read-only); the values of all comparable columns (views). Every decision
and its cost is written into the relation's notes for the schema report.
"""
from __future__ import annotations

from sqlalchemy import Column
from sqlalchemy import types as sqltypes

__all__ = ["identity_for", "LOCATOR_INFO"]

#: ``Column.info`` key marking a column the console added to locate rows (rowid, ctid).
LOCATOR_INFO = "backoffice_locator"

def _not_comparable(column, dialect: str) -> str:
    """Why this column cannot identify rows ("" when it can): it needs SQL equality and a
    hashable Python value. An untyped SQLite column compares by storage class: it can."""
    kind = column.type
    name = type(kind).__name__
    if isinstance(kind, sqltypes.JSON) or name in ("JSON", "JSONB"):
        return "json"
    if isinstance(kind, sqltypes.ARRAY):
        return "array"
    if name == "XML":
        return "xml: no equality operator"
    if isinstance(kind, sqltypes.NullType) and dialect != "sqlite":
        return f"type without a known equality ({name})"
    return ""


def _add_locator(entry, names: tuple[str, ...], sql_type) -> tuple[str, ...]:
    """Map a row identity the database keeps itself (SQLite's rowid, PostgreSQL's ctid)
    as extra columns of the table; returns their names."""
    taken = {c.key for c in entry.table.columns}
    for name in names:
        key = name
        while key in taken:
            key += "_"
        column = Column(name, sql_type(), key=key, primary_key=name in ("rowid", "_rowid_", "oid"),
                        info={LOCATOR_INFO: True})
        entry.table.append_column(column)
    return names


def identity_for(entry, volatile: str | None) -> None:
    """Choose the columns that identify a row; record the decision and its cost."""
    table = entry.table
    pk = [c.name for c in table.primary_key.columns]
    if pk:
        entry.primary_key = tuple(pk)
        return
    uniques = [c for c in table.constraints if c.__class__.__name__ == "UniqueConstraint"]
    uniques += [i for i in table.indexes if i.unique]
    for unique in uniques:
        cols = list(unique.columns)
        if cols and all(not c.nullable for c in cols):
            entry.primary_key = tuple(c.name for c in cols)
            entry.locator = "unique key"
            entry.notes.append(f"no primary key: rows identified by unique key ({', '.join(entry.primary_key)})")
            if entry.kind in ("table", "foreign table"):
                entry.read_only = True
                entry.notes.append("read-only: a table without a primary key has no safe way to address one row")
            return
    names = {c.name for c in table.columns}
    if entry.dialect == "sqlite" and entry.kind in ("table", "virtual table", "shadow table"):
        alias = next((a for a in ("rowid", "_rowid_", "oid") if a not in names), None)
        if alias is not None:
            entry.primary_key = _add_locator(entry, (alias,), sqltypes.Integer)
            entry.locator = "rowid"
            entry.notes.append(f"no primary key: rows located by SQLite's rowid (shown as '{alias}'); "
                               "it identifies a row as a key would, so editing is safe")
            return
    if entry.dialect == "postgresql" and entry.kind in ("table", "partitioned table", "materialized view"):
        # System columns: never NULL, so even a row of NULLs opens; one TID lookup per row opened.
        located = ("tableoid", "ctid") if entry.kind == "partitioned table" else ("ctid",)
        entry.primary_key = _add_locator(entry, located, sqltypes.NullType)
        entry.locator = "ctid"
        entry.read_only = True
        entry.notes.append(
            "no primary key: rows located by their physical position (" + ", ".join(located) + "): opening one "
            "costs a direct lookup, but a link goes stale once that row is updated or the table rewritten "
            "(VACUUM FULL, CLUSTER); read-only because a position is not a key")
        return
    skipped = {c.name: why for c in table.columns if (why := _not_comparable(c, entry.dialect))}
    usable = [c.name for c in table.columns if c.name not in skipped]
    entry.primary_key = tuple(usable or [c.name for c in table.columns])
    entry.locator = "all columns"
    entry.notes.append("no primary key: rows located by the values of all their columns"
                       + (" except " + ", ".join(f"{n} ({why})" for n, why in skipped.items()) if skipped else "")
                       + "; opening a row reads the relation until it is found (a full scan without an index); "
                       "a row whose columns are all NULL cannot be located again: its details are shown in the list; "
                       "a row one of whose values changes between reads (an aggregate without ORDER BY) is found "
                       "by the other columns when they match one row only (one scan per column at worst)")
    if volatile:
        entry.locatable = False
        entry.notes.append(f"rows cannot be located again: the definition computes {volatile} anew on every "
                           "read; each row's details are shown in the list instead of behind a link")
    if entry.kind in ("table", "foreign table"):
        entry.read_only = True
        entry.notes.append("read-only: a table without a primary key has no safe way to address one row")
