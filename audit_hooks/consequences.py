"""The collector's side of cascades: plan before the write, audit after it.

Before a flush (or an ORM bulk statement) deletes rows or changes columns that
foreign keys reference, :func:`plan_for` reads what the database will cascade
(:mod:`audit_hooks.cascade`); after it, :func:`changes_for` turns the plan into
audited row changes linked to their causes, reading the values the database set.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from audit_hooks.cascade import Planned, plan, referenced_columns, referencing_map
from audit_hooks.changeset import RowChange, json_value

__all__ = ["Consequences"]


class Consequences:
    """Which tables propagate what, computed once per console from the reflected foreign keys."""

    def __init__(self, tables: list[Table]):
        self.tables = tables
        referencing = referencing_map(tables)  # once: asked for every table below
        self.on_delete = {t for t in tables if referenced_columns(tables, t, "delete", referencing)}
        self.on_update = {t: cols for t in tables
                          if (cols := referenced_columns(tables, t, "update", referencing))}

    def wants(self, table: Table, op: str, columns=()) -> bool:
        """True when a change of this kind to ``table`` can make the database change other rows."""
        if op == "delete":
            return table in self.on_delete
        return bool(self.on_update.get(table, set()) & set(columns))

    def plan_for(self, connection, roots: list[Planned]) -> list[Planned]:
        roots = [r for r in roots if self.wants(r.table, r.op, r.new)]
        return plan(connection, self.tables, roots) if roots else []

    @staticmethod
    def changes_for(planned: list[Planned], root_changes: dict[tuple, RowChange], fetch, make) -> list[RowChange]:
        """Row changes for ``planned`` (parents first); ``fetch(table, keys)`` reads current rows
        (JSON-safe values by key), ``make(table, op, key, old, new)`` builds a RowChange."""
        built: dict[int, RowChange] = {}
        after: dict[Table, dict[tuple, dict]] = {}
        updated = [p for p in planned if p.op == "update"]
        for table in dict.fromkeys(p.table for p in updated):
            after[table] = fetch(table, [_new_key(p) for p in updated if p.table is table])
        rows = []
        for item in planned:
            old = {k: json_value(v) for k, v in item.old.items()}
            if item.op == "delete":
                change = make(item.table, "delete", item.key, old, {})
            else:
                now = after[item.table].get(_new_key(item), {})
                new = {c: now.get(c, json_value(v)) for c, v in item.new.items()}
                change = make(item.table, "update", item.key, {c: old.get(c) for c in new}, new)
            change.rule = item.rule
            cause = item.cause
            change.cause = built.get(id(cause)) or root_changes.get((id(cause.table), cause.op, cause.key))
            built[id(item)] = change
            rows.append(change)
        return rows


def _new_key(item: Planned) -> tuple:
    names = [c.name for c in (list(item.table.primary_key.columns) or list(item.table.columns))]
    values: dict[str, Any] = dict(zip(names, item.key))
    for column, value in item.new.items():
        if column in values and column not in item.default_columns:
            values[column] = value
    return tuple(values[n] for n in names)
