"""Two-person approval, the data side: what changed since a request, and applying it.

:func:`conflicts` compares each held row with the row as it is now (an edit, delete or action:
a column whose value differs from the one the requester saw; a create: a primary or unique key
another row took meanwhile). :func:`apply` writes the held change through the session, so the
audit hooks record it in the approval's transaction. Reverts and queue decisions are applied by
their own owners (audit_hooks.revert, the queue runner), not here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy import inspect as sa_inspect

from audit_hooks.changeset import json_value
from audit_hooks.revert_plan import python_value

__all__ = ["Conflict", "conflicts", "apply"]


@dataclass
class Conflict:
    """A row that changed since the request: per column, old at request / now / requested new."""

    entity_id: str
    columns: list[tuple[str, Any, Any, Any]]
    gone: bool = False


def _where(table, values: dict):
    return and_(*(table.c[name] == python_value(table.c[name], v) for name, v in values.items()))


def _keys_taken(session, entry, held: dict) -> Conflict | None:
    """A create: the first primary or unique key of the new row that another row holds now."""
    table, new = entry.table, held["new"]
    keys = [list(table.primary_key.columns)] + [list(c.columns) for c in table.constraints
                                                 if type(c).__name__ == "UniqueConstraint"]
    keys += [list(i.columns) for i in table.indexes if i.unique]
    for columns in keys:
        values = {c.name: new.get(c.name) for c in columns}
        if not columns or None in values.values():
            continue  # a key the database fills in (or NULL, which never collides)
        current = session.execute(select(table).where(_where(table, values))).mappings().first()
        if current is not None:
            return Conflict(held["entity_id"], [(c, None, json_value(current[c]), v) for c, v in values.items()])
    return None


def conflicts(session, entry, request: dict, lock: bool = True) -> list[Conflict]:
    """Every held row of ``request`` that changed since it was made (empty: it may be applied)."""
    table, found = entry.table, []
    for held in request["rows"]:
        if request["kind"] == "create":
            taken = _keys_taken(session, entry, held)
            if taken:
                found.append(taken)
            continue
        query = select(table).where(_where(table, held["primary_key"]))
        if lock and session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        current = session.execute(query).mappings().first()
        if current is None:
            found.append(Conflict(held["entity_id"], [], gone=True))
            continue
        differing = [(c, held["old"].get(c), json_value(current[c]), held["new"].get(c, "(deleted)"))
                     for c in held["old"] if json_value(current[c]) != held["old"][c]]
        if differing:
            found.append(Conflict(held["entity_id"], differing))
    return found


def apply(session, entry, request: dict) -> None:
    """Write the held change of an edit, delete, create or declared action (flushed by the caller's commit)."""
    mapper = sa_inspect(entry.model)
    for held in request["rows"]:
        if request["kind"] == "create":
            session.add(entry.model(**{entry.key(name): python_value(entry.table.c[name], value)
                                       for name, value in held["new"].items()}))
            continue
        identity = tuple(python_value(c, held["primary_key"][c.name]) for c in mapper.primary_key)
        obj = session.get(entry.model, identity)
        if request["kind"] == "delete":
            session.delete(obj)
            continue
        for name, value in held["new"].items():
            setattr(obj, entry.key(name), python_value(entry.table.c[name], value))
