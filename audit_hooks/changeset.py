"""What one transaction step changed, and who did it: the :class:`ChangeSet`.

The action, reason and actor come from :func:`audit_action` when code wraps its
changes in it; otherwise from the request (operator, client address, request id)
and the kind of change (``create`` / ``update`` / ``delete``).
"""
from __future__ import annotations

import base64
import contextvars
import datetime as dt
import decimal
import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from backoffice.core.access import Operator, current_operator

__all__ = ["ChangeSet", "RowChange", "AuditContext", "audit_action", "current_context", "json_value", "OP_ACTIONS"]

#: The default action name of each kind of row change.
OP_ACTIONS = {"insert": "create", "update": "update", "delete": "delete"}


def json_value(value: Any) -> Any:
    """A JSON-safe, stable form of a column value (so hashes survive a round trip)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID, dt.timedelta)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "base64:" + base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_value(v) for v in value]
    return str(value)


@dataclass
class RowChange:
    """One row of a reflected table that was inserted, updated or deleted.

    ``old`` holds the values before (the whole row for a delete, the changed
    columns for an update), ``new`` the values after (the whole row for an insert).
    """

    table: str  # qualified name: "movies" or "schema.table"
    op: str  # "insert" | "update" | "delete"
    primary_key: dict[str, Any]
    entity_id: str  # the primary key as the screens' URLs spell it (?id=...)
    old: dict[str, Any] = field(default_factory=dict)
    new: dict[str, Any] = field(default_factory=dict)
    #: For a change the database made itself (a foreign key's ON DELETE / ON UPDATE rule):
    #: the rule, and the row change that set it off (audited first; its id is ``caused_by``).
    rule: str | None = None
    cause: "RowChange | None" = field(default=None, repr=False, compare=False)
    #: For a revert: the audit id of the event this change undoes (``changes["reverts"]``).
    reverts: int | None = None

    @property
    def changed_columns(self) -> list[str]:
        return sorted(set(self.old) | set(self.new))

    def as_changes(self) -> dict[str, Any]:
        """The ``changes`` JSON stored in the audit row."""
        changes: dict[str, Any] = {"op": self.op, "primary_key": self.primary_key}
        if self.op != "insert":
            changes["old"] = self.old
        if self.op != "delete":
            changes["new"] = self.new
        if self.rule:
            changes["cascade"] = {"rule": self.rule, "cause": None if self.cause is None else
                                  {"table": self.cause.table, "entity_id": self.cause.entity_id}}
        if self.reverts is not None:
            changes["reverts"] = self.reverts
        return changes


@dataclass
class AuditContext:
    """Who acts and why, set by :func:`audit_action` for the changes made inside it."""

    action: str | None = None
    reason: str | None = None
    actor: Operator | None = None
    reverts: int | None = None  # the audit id a revert undoes (audit_hooks/revert.py)


_context: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar("backoffice_audit_context",
                                                                               default=None)


def current_context() -> AuditContext:
    return _context.get() or AuditContext()


@contextmanager
def audit_action(action: str | None = None, *, reason: str | None = None,
                 actor: Operator | None = None, reverts: int | None = None) -> Iterator[AuditContext]:
    """Record the session changes made inside the block under ``action`` and ``reason``.

    On a normal exit the application's session is flushed, so every change made
    inside the block is audited under this action even when ``commit()`` comes
    later. Nesting replaces the outer context for the inner block only.
    """
    if action is not None and (not isinstance(action, str) or not action.strip() or len(action) > 100):
        raise ValueError("action must be a non-empty name of at most 100 characters, e.g. 'review.apply'")
    outer = current_context()
    context = AuditContext(
        action=action or outer.action,
        reason=(reason.strip() or None) if isinstance(reason, str) else outer.reason,
        actor=actor or outer.actor,
        reverts=reverts,
    )
    token = _context.set(context)
    try:
        yield context
        _flush_current_session()
    finally:
        _context.reset(token)


def _flush_current_session() -> None:
    from flask import current_app, has_app_context

    if not has_app_context():
        return
    db = current_app.extensions.get("backoffice.db")
    if db is not None and db.session.is_active:
        db.session.flush()


@dataclass
class ChangeSet:
    """Everything one flush (or one bulk statement) changed, with who, why and where.

    Hooks receive it inside the transaction. ``connection`` is that transaction's
    connection (write through it); ``audit_ids`` is filled by the audit writer.
    """

    actor: str
    actor_role: str
    action: str
    reason: str | None
    client_addr: str | None
    request_id: str | None
    rows: list[RowChange]
    occurred_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    explicit_action: bool = False
    connection: Any = field(default=None, repr=False, compare=False)
    audit_ids: list[int] = field(default_factory=list, repr=False, compare=False)

    def action_for(self, row: RowChange) -> str:
        """The action recorded for one row: ``delete (cascade)`` / ``update (cascade)`` for a
        change the database made itself, else the explicit action, else the row's kind."""
        if row.rule:
            return f"{OP_ACTIONS[row.op]} (cascade)"
        return self.action if self.explicit_action else OP_ACTIONS[row.op]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (used by the log hook)."""
        return {
            "actor": self.actor, "actor_role": self.actor_role, "action": self.action, "reason": self.reason,
            "client_addr": self.client_addr, "request_id": self.request_id,
            "occurred_at": self.occurred_at.isoformat(),
            "rows": [{"table": r.table, "entity_id": r.entity_id, **r.as_changes()} for r in self.rows],
        }

    @classmethod
    def build(cls, rows: list[RowChange]) -> "ChangeSet":
        """A change set for ``rows`` with the current operator, request and audit context."""
        from flask import has_request_context, request

        from backoffice.web.requestlog import request_id

        context = current_context()
        operator = context.actor or current_operator()
        ops = {row.op for row in rows}
        action = context.action or (OP_ACTIONS[ops.pop()] if len(ops) == 1 else "write")
        in_request = has_request_context()
        if context.reverts is not None:
            for row in rows:
                if not row.rule:  # what the database cascades is linked to its cause instead
                    row.reverts = context.reverts
        return cls(
            actor=operator.username, actor_role=operator.role, action=action, reason=context.reason,
            client_addr=request.remote_addr if in_request else None,
            request_id=request_id() if in_request else None,
            rows=rows, explicit_action=context.action is not None,
        )
