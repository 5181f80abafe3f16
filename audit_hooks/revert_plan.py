"""Planning a revert: what undoing one audited event would change, and every conflict (reads only).

See :mod:`audit_hooks.revert` for what a revert is; this module reads the event, the rows it
touched as they are now, and what the database cascaded with it.
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select

from models.own import audit_events

from audit_hooks.changeset import json_value

__all__ = ["REVERTIBLE_ACTIONS", "REVERT_ACTIONS", "Conflict", "Step", "RevertPlan", "RevertOutcome",
           "RevertRefused", "MODES", "Tables", "python_value", "plan_revert", "reverted_by", "request_events",
           "load_event"]

MODES = ("clean", "partial", "overwrite")
#: The audit action of a revert; a queue decision's reversal is itself a queue action (only
#: queue actions may write the columns a queue owns: queues/ownership.py).
REVERT_ACTIONS = ("revert", "review.revert")
#: Events whose rows a revert puts back; queue decisions are reversed through their queue.
REVERTIBLE_ACTIONS = ("create", "update", "delete", "revert", "review.revert")


class RevertRefused(Exception):
    """The revert cannot be done as asked; the message is for the operator."""


@dataclass
class Conflict:
    """Why one row (or one column of it) cannot simply be put back."""

    kind: str  # changed | gone | key_taken | missing_parent
    message: str
    column: str | None = None


@dataclass
class Step:
    """One row a revert changes: ``op`` is what the revert does (insert / update / delete)."""

    event_id: int
    table: str
    op: str
    entity_id: str
    key: dict[str, Any]
    before: dict[str, Any]  # the event's old values
    after: dict[str, Any]  # the event's new values
    now: dict[str, Any] | None  # the row as it is (JSON-safe), None when absent
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return sorted(set(self.before) | set(self.after))

    @property
    def changed_columns(self) -> set[str]:
        return {c.column for c in self.conflicts if c.kind == "changed" and c.column}

    @property
    def structural(self) -> list[Conflict]:
        return [c for c in self.conflicts if c.kind != "changed"]


@dataclass
class RevertPlan:
    """What reverting one event would do, and what stands in the way."""

    event: dict[str, Any]
    steps: list[Step]
    reverted_by: int | None = None
    refusal: str | None = None

    @property
    def conflicts(self) -> list[Conflict]:
        return [c for s in self.steps for c in s.conflicts]


@dataclass
class RevertOutcome:
    event_id: int
    done: bool
    message: str
    revert_ids: list[int] = field(default_factory=list)


def load_event(connection, event_id: int) -> dict | None:
    row = connection.execute(select(audit_events).where(audit_events.c.id == event_id)).mappings().first()
    return None if row is None else dict(row)


def _reverts_column():
    return audit_events.c.changes["reverts"].as_integer()


def reverted_by(connection, event_ids) -> dict[int, int]:
    """Event id -> id of the revert that undid it (the first one), for the given ids."""
    ids = [int(i) for i in event_ids]
    if not ids:
        return {}
    query = select(audit_events.c.id, _reverts_column().label("reverts")).where(
        audit_events.c.action.in_(REVERT_ACTIONS), _reverts_column().in_(ids)).order_by(audit_events.c.id)
    found: dict[int, int] = {}
    for row in connection.execute(query):
        found.setdefault(row.reverts, row.id)
    return found


def request_events(connection, request_id: str) -> list[dict]:
    """The events one request wrote that a revert can undo (what the database cascaded is
    restored with its cause), oldest first."""
    rows = connection.execute(select(audit_events).where(
        audit_events.c.request_id == request_id, audit_events.c.caused_by.is_(None),
        audit_events.c.action.not_like("approval.%"),  # a record of an approval step, not a change
    ).order_by(audit_events.c.id)).mappings().all()
    return [dict(r) for r in rows]


# -- values ---------------------------------------------------------------------------------------

def python_value(column, value: Any) -> Any:
    """The driver value of a JSON-safe audit value (audit_hooks.changeset.json_value, reversed)."""
    if value is None:
        return None
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return value
    if not isinstance(value, str) or kind is str:
        return value
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if kind is dt.date:
        return dt.date.fromisoformat(value)
    if kind is dt.time:
        return dt.time.fromisoformat(value)
    if kind is decimal.Decimal:
        return decimal.Decimal(value)
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is bytes and value.startswith("base64:"):
        return base64.b64decode(value[7:])
    if kind is float:
        return float(value)
    return value


class Tables:
    """Qualified name -> (Table, ORM model, column -> attribute) from the reflection."""

    def __init__(self, reflection):
        self.entries = {entry.qualified_name: entry for entry in reflection.tables.values()}

    def get(self, name: str):
        entry = self.entries.get(name)
        if entry is None or entry.model is None or entry.read_only:
            raise RevertRefused(f"{name} has no writable screen; its events cannot be reverted here")
        return entry

    def current(self, connection, name: str, key: dict[str, Any]) -> dict | None:
        table = self.get(name).table
        criterion = and_(*[table.c[k] == python_value(table.c[k], v) for k, v in key.items()])
        row = connection.execute(select(table).where(criterion)).mappings().first()
        return None if row is None else {k: json_value(v) for k, v in row.items()}

    def exists(self, connection, table, values: dict[str, Any]) -> bool:
        criterion = and_(*[table.c[k] == python_value(table.c[k], v) for k, v in values.items()])
        return connection.execute(select(1).select_from(table).where(criterion).limit(1)).first() is not None


# -- planning ------------------------------------------------------------------------------------

def _step(event: dict, tables: Tables, connection, restoring: list) -> Step:
    changes = event["changes"] if isinstance(event["changes"], dict) else {}
    kind, name = changes.get("op"), event["entity_type"]
    entry = tables.get(name)
    table = entry.table
    key = dict(changes.get("primary_key") or {})
    before, after = dict(changes.get("old") or {}), dict(changes.get("new") or {})
    if kind == "update":
        key_now = {k: after.get(k, v) for k, v in key.items()}
        step = Step(event["id"], name, "update", event["entity_id"], key_now, before, after,
                    tables.current(connection, name, key_now))
        if step.now is None:
            step.conflicts.append(Conflict("gone", f"{name} #{event['entity_id']} no longer exists"))
        else:
            for column, value in after.items():
                if step.now.get(column) != value:
                    step.conflicts.append(Conflict("changed", f"{column} was changed after this event", column))
        step.conflicts += _missing_parents(connection, tables, table, before, restoring)
        if step.now is not None:  # the row as the revert leaves it: a parent of what follows
            restoring.append((table, {**step.now, **before}))
        return step
    if kind == "insert":
        step = Step(event["id"], name, "delete", event["entity_id"], key, before, after,
                    tables.current(connection, name, key))
        if step.now is None:
            step.conflicts.append(Conflict("gone", f"{name} #{event['entity_id']} no longer exists"))
        else:
            for column, value in after.items():
                if step.now.get(column) != value:
                    step.conflicts.append(Conflict("changed", f"{column} was changed after it was created", column))
        return step
    if kind == "delete":
        step = Step(event["id"], name, "insert", event["entity_id"], key, before, after,
                    tables.current(connection, name, key))
        if step.now is not None:
            step.conflicts.append(Conflict("key_taken", f"another row of {name} now has the key "
                                           f"#{event['entity_id']}"))
        for unique in [c for c in table.constraints if type(c).__name__ == "UniqueConstraint"]:
            values = {c.name: before.get(c.name) for c in unique.columns}
            if None not in values.values() and tables.exists(connection, table, values):
                shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
                step.conflicts.append(Conflict("key_taken", f"another row of {name} now has {shown}"))
        step.conflicts += _missing_parents(connection, tables, table, before, restoring)
        restoring.append((table, before))
        return step
    raise RevertRefused(f"event #{event['id']} has no row change to revert")


def _missing_parents(connection, tables: Tables, table, values: dict, restoring: list) -> list[Conflict]:
    found = []
    for constraint in table.foreign_key_constraints:
        mine = [c.name for c in constraint.columns]
        if not set(mine) & set(values):
            continue
        wanted = {e.column.name: values.get(e.parent.name) for e in constraint.elements}
        if None in wanted.values() or any(c not in values for c in mine):
            continue
        parent = constraint.referred_table
        restored = any(t is parent and all(row.get(k) == v for k, v in wanted.items()) for t, row in restoring)
        if not restored and not tables.exists(connection, parent, wanted):
            shown = ", ".join(f"{k}={v!r}" for k, v in wanted.items())
            found.append(Conflict("missing_parent", f"{parent.name} with {shown} no longer exists",
                                  next(iter(mine))))
    return found


def _cascaded(connection, event_id: int) -> list[dict]:
    """Audit rows the database wrote because of ``event_id``, any depth, in id order (causes first)."""
    found, frontier = [], [event_id]
    while frontier:
        rows = connection.execute(select(audit_events).where(audit_events.c.caused_by.in_(frontier))
                                  .order_by(audit_events.c.id)).mappings().all()
        found += [dict(r) for r in rows]
        frontier = [r["id"] for r in rows]
    return sorted(found, key=lambda r: r["id"])


def _decision(connection, event: dict) -> list[dict]:
    """Every row one queue decision changed: the events of that action in the same request (a
    decision flushes more than once; a bulk decision of one request is reverted as a whole);
    outside a request, the events of the same flush."""
    query = select(audit_events).where(audit_events.c.action == event["action"], audit_events.c.caused_by.is_(None))
    if event["request_id"]:
        query = query.where(audit_events.c.request_id == event["request_id"])
    else:
        query = query.where(audit_events.c.request_id.is_(None), audit_events.c.occurred_at == event["occurred_at"])
    return [dict(r) for r in connection.execute(query.order_by(audit_events.c.id)).mappings()]


def plan_revert(session, reflection, event_id: int, decisions=None) -> RevertPlan:
    """What reverting event ``event_id`` would change, with every conflict (reads only).

    ``decisions(event)`` (given by the queues' owner, which this layer cannot import) says
    whether a queue decision may be reversed: None when its queue declares ``reverse =
    "restore"``, else why not. Then every row the decision changed is put back, each checked."""
    connection = session.connection()
    event = load_event(connection, event_id)
    if event is None:
        raise RevertRefused(f"there is no audit event #{event_id}")
    plan = RevertPlan(event, [], reverted_by(connection, [event_id]).get(event_id))
    action = event["action"]
    if event["caused_by"] is not None:
        plan.refusal = (f"the database made this change because of event #{event['caused_by']}; "
                        "revert that event and this row comes back with it")
        return plan
    tables = Tables(reflection)
    restoring: list = []
    if action not in REVERTIBLE_ACTIONS:
        plan.refusal = f"no queue declares how to reverse {action!r}" if decisions is None else decisions(event)
        if plan.refusal is None:
            group = _decision(connection, event)
            plan.steps = [_step(e, tables, connection, restoring) for e in group]
            done = reverted_by(connection, [e["id"] for e in group])
            plan.reverted_by = plan.reverted_by or next(iter(done.values()), None)
        return plan
    plan.steps.append(_step(event, tables, connection, restoring))
    if plan.steps[0].op == "insert":
        for child in _cascaded(connection, event_id):
            plan.steps.append(_step(child, tables, connection, restoring))
    elif plan.steps[0].op == "update":
        # A changed key: ON UPDATE CASCADE children follow it back by themselves (the database
        # does it again, audited as caused by the revert); ON UPDATE SET NULL / SET DEFAULT
        # children lost the value and get it back from their own audit rows, after the parent.
        for child in _cascaded(connection, event_id):
            rule = ((child["changes"] or {}).get("cascade") or {}).get("rule") if isinstance(child["changes"], dict) else None
            if rule != "ON UPDATE CASCADE":
                plan.steps.append(_step(child, tables, connection, restoring))
    return plan
