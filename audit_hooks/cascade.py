"""What the database itself will change when a row is deleted or a referenced key changes.

``ON DELETE CASCADE / SET NULL / SET DEFAULT`` and ``ON UPDATE CASCADE / SET NULL /
SET DEFAULT`` change rows that the ORM never sees. :func:`plan` walks the reflected
foreign keys from the rows a write will delete or re-key, level by level (any depth;
a row is planned once, so cycles end), and reads every row that will change with its
old values, ``FOR UPDATE`` on PostgreSQL, parents before children (the lock order
of docs/audit-integrity.md). The collector audits each planned row in the same
transaction, linked to its cause; :func:`preview` gives the delete confirmation page
counts and samples per table, with counts still stated when there are too many rows
to read.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, func, select, tuple_

__all__ = ["Planned", "plan", "preview", "delete_preview", "TableEffect", "Preview", "referenced_columns",
           "referencing_map", "key_of"]

_BATCH = 500
_RULES = {"CASCADE", "SET NULL", "SET DEFAULT"}


@dataclass(eq=False)
class Planned:
    """One row the database will delete or change because of ``cause`` (a planned or root row)."""

    table: Table
    op: str  # "delete" | "update"
    key: tuple
    old: dict[str, Any]  # the whole row before, raw values
    new: dict[str, Any] = field(default_factory=dict)  # predicted values of the changed columns
    rule: str = ""  # e.g. "ON DELETE CASCADE"; empty for a root (the console's own change)
    cause: "Planned | None" = None
    default_columns: tuple[str, ...] = ()  # SET DEFAULT: read the value after the change


def _pk(table: Table) -> list:
    return list(table.primary_key.columns) or list(table.columns)


def key_of(table: Table, row: dict[str, Any]) -> tuple:
    return tuple(row[c.name] for c in _pk(table))


def _referencing(tables: Iterable[Table]) -> dict[Table, list]:
    found: dict[Table, list] = {}
    for child in tables:
        for constraint in child.foreign_key_constraints:
            try:
                parent = constraint.referred_table
            except Exception:  # an unresolved reference: nothing to walk
                continue
            found.setdefault(parent, []).append((child, constraint))
    return found


def referencing_map(tables: Iterable[Table]) -> dict[Table, list]:
    """Parent table -> [(child table, foreign key constraint)], for :func:`referenced_columns`."""
    return _referencing(tables)


def referenced_columns(tables: Iterable[Table], table: Table, event: str = "update",
                       referencing: dict[Table, list] | None = None) -> set[str]:
    """Columns of ``table`` whose change the database propagates to other tables.
    ``referencing`` (:func:`referencing_map` of ``tables``) spares walking every foreign key
    again when asking for each table in turn: at 500 tables that walk made start-up quadratic."""
    names = set()
    referencing = _referencing(tables) if referencing is None else referencing
    for child, constraint in referencing.get(table, []):
        if (getattr(constraint, "on" + event) or "").upper() in _RULES:
            names.update(e.column.name for e in constraint.elements)
    return names


def _select_children(connection, child, child_cols, values, lock, limit=None):
    criterion = child.c[child_cols[0]].in_([v[0] for v in values]) if len(child_cols) == 1 else \
        tuple_(*(child.c[c] for c in child_cols)).in_(values)
    query = select(child).where(criterion).order_by(*_pk(child))
    if limit is not None:
        query = query.limit(limit)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return query, criterion


def plan(connection: Connection, tables: Iterable[Table], roots: list[Planned], lock: bool = True,
         max_rows: int | None = None, overflow: list | None = None) -> list[Planned]:
    """Every row the database will change because of ``roots``, parents before children.

    With ``max_rows`` (previews), a child batch that would pass the limit is counted
    instead of read, appended to ``overflow`` as (table, op, rule, count), and not walked further.
    """
    referencing = _referencing(tables)
    seen = {(id(r.table), r.op, r.key) for r in roots}
    planned: list[Planned] = []
    level = list(roots)
    while level:
        next_level: list[Planned] = []
        for parent_table in dict.fromkeys(r.table for r in level):
            for op in ("delete", "update"):
                parents = [r for r in level if r.table is parent_table and r.op == op]
                for child, constraint in referencing.get(parent_table, []) if parents else ():
                    rule = (getattr(constraint, "ondelete" if op == "delete" else "onupdate") or "").upper()
                    if rule not in _RULES:
                        continue
                    parent_cols = [e.column.name for e in constraint.elements]
                    child_cols = [e.parent.name for e in constraint.elements]
                    relevant = [p for p in parents if op == "delete" or set(parent_cols) & set(p.new)]
                    by_value: dict[tuple, Planned] = {}
                    for p in relevant:
                        value = tuple(p.old.get(c) for c in parent_cols)
                        if None not in value:
                            by_value.setdefault(value, p)
                    values = list(by_value)
                    for start in range(0, len(values), _BATCH):
                        chunk = values[start:start + _BATCH]
                        room = None if max_rows is None else max_rows - len(planned)
                        query, criterion = _select_children(connection, child, child_cols, chunk, lock,
                                                            None if room is None else room + 1)
                        rows = connection.execute(query).mappings().all()
                        if room is not None and len(rows) > room:
                            count = connection.execute(select(func.count()).select_from(child).where(criterion)).scalar()
                            overflow.append((child, "delete" if (op, rule) == ("delete", "CASCADE") else "update",
                                             f"ON {op.upper()} {rule}", count))
                            continue
                        for row in rows:
                            row = dict(row)
                            cause = by_value[tuple(row[c] for c in child_cols)]
                            item = _effect(child, op, rule, row, child_cols, parent_cols, cause)
                            mark = (id(child), item.op, item.key)
                            if mark in seen or (id(child), "delete", item.key) in seen:
                                continue
                            seen.add(mark)
                            planned.append(item)
                            next_level.append(item)
        level = next_level
    return planned


def _effect(child, op, rule, row, child_cols, parent_cols, cause) -> Planned:
    key = key_of(child, row)
    label = f"ON {op.upper()} {rule}"
    if op == "delete" and rule == "CASCADE":
        return Planned(child, "delete", key, row, rule=label, cause=cause)
    if rule == "CASCADE":  # ON UPDATE CASCADE: the child's columns take the parent's new values
        new = {c: cause.new.get(p, row[c]) for c, p in zip(child_cols, parent_cols)}
        return Planned(child, "update", key, row, new, rule=label, cause=cause)
    if rule == "SET NULL":
        return Planned(child, "update", key, row, {c: None for c in child_cols}, rule=label, cause=cause)
    return Planned(child, "update", key, row, {c: None for c in child_cols}, rule=label, cause=cause,
                   default_columns=tuple(child_cols))


@dataclass
class TableEffect:
    """What one table will undergo: ``count`` rows deleted or changed, a few samples."""

    table: str
    op: str  # "delete" | "update"
    rule: str
    count: int
    samples: list[str] = field(default_factory=list)
    complete: bool = True  # False: counted, not read; rows further down were not counted


@dataclass
class Preview:
    """Everything else a delete will change, per table, as the confirmation page shows it."""

    effects: list[TableEffect]

    @property
    def total(self) -> int:
        return sum(e.count for e in self.effects)

    @property
    def complete(self) -> bool:
        return all(e.complete for e in self.effects)


def _sample(table: Table, row: dict[str, Any]) -> str:
    # the key only: other columns may be ones a screen never shows (never_show)
    return "#" + ", ".join(str(v) for v in key_of(table, row))


def preview(connection: Connection, tables: Iterable[Table], names: dict[Table, str], table: Table,
            rows: list[dict[str, Any]], samples: int = 3, max_rows: int = 5000) -> Preview:
    """What deleting ``rows`` (whole rows of ``table``) will also delete or change, read only."""
    roots = [Planned(table, "delete", key_of(table, r), r) for r in rows]
    overflow: list = []
    planned = plan(connection, list(tables), roots, lock=False, max_rows=max_rows, overflow=overflow)
    grouped: dict[tuple, TableEffect] = {}
    for item in planned:
        entry = grouped.setdefault((id(item.table), item.op, item.rule),
                                   TableEffect(names.get(item.table, item.table.name), item.op, item.rule, 0))
        entry.count += 1
        if len(entry.samples) < samples:
            entry.samples.append(_sample(item.table, item.old))
    for child, op, rule, count in overflow:
        entry = grouped.setdefault((id(child), op, rule), TableEffect(names.get(child, child.name), op, rule, 0))
        entry.count += count
        entry.complete = False
    return Preview(list(grouped.values()))


def delete_preview(session, models: list, reflection, samples: int = 3, max_rows: int = 5000) -> Preview:
    """:func:`preview` for ORM objects of one reflected table about to be deleted (read only)."""
    if not models:
        return Preview([])
    from sqlalchemy import inspect as sa_inspect

    names = {entry.table: entry.qualified_name for entry in reflection.tables.values()}
    mapper = sa_inspect(models[0]).mapper
    table = mapper.local_table
    columns = _pk(table)
    keys = [tuple(mapper.primary_key_from_instance(m)) for m in models]
    criterion = columns[0].in_([k[0] for k in keys]) if len(columns) == 1 else tuple_(*columns).in_(keys)
    connection = session.connection()
    rows = [dict(r) for r in connection.execute(select(table).where(criterion)).mappings()]
    return preview(connection, list(names), names, table, rows, samples=samples, max_rows=max_rows)


def complete_sqlite_rules(connection: Connection, tables: Iterable[Table]) -> int:
    """Fill in ON DELETE / ON UPDATE rules SQLAlchemy's SQLite reflection missed.

    It reads them by parsing the table's SQL, which misses inline ``REFERENCES ... ON
    DELETE CASCADE`` column clauses; ``PRAGMA foreign_key_list`` is authoritative.
    Returns how many constraints were completed."""
    from sqlalchemy import text

    completed = 0
    for table in tables:
        rows = connection.execute(text(f"PRAGMA foreign_key_list({connection.dialect.identifier_preparer.quote(table.name)})")).mappings().all()
        found: dict[int, dict] = {}
        for row in rows:
            entry = found.setdefault(row["id"], {"table": row["table"], "cols": [], "del": row["on_delete"],
                                                 "upd": row["on_update"]})
            entry["cols"].append(row["from"])
        for constraint in table.foreign_key_constraints:
            mine = [c.name for c in constraint.columns]
            for entry in found.values():
                if entry["cols"] == mine and entry["table"] == constraint.elements[0].target_fullname.split(".")[0]:
                    for attribute, rule in (("ondelete", entry["del"]), ("onupdate", entry["upd"])):
                        if not getattr(constraint, attribute) and (rule or "").upper() in _RULES:
                            setattr(constraint, attribute, rule.upper())
                            completed += 1
    return completed
