"""Performing queue actions: transitions, effects, row locks, one transaction per row.

Each row is decided in its own transaction, named ``review.<action>`` for the
audit hooks, so a bulk action reports per row (done, or skipped and why) and one
bad row never undoes the others.

Lock order, the same for every action and every effect (so two actions on one
subject queue behind each other instead of deadlocking): first the subject row
(the movie) ``FOR UPDATE``, then all of its queue rows ``FOR UPDATE`` in id order,
and only then anything that flushes, which takes the audit chain's lock. States
are re-checked after the locks, so two operators acting at once produce one
change and the second is told who decided first; an exclusive action (apply) is
refused while another row of the same subject holds its state, naming that row.
SQLite, which has no row locks, takes its database write lock before the read.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError

from audit_hooks import AuditError, audit_action
from audit_hooks.errors import describe_database_error

from backoffice.core.access import Operator
from queues.spec import ActionSpec, Change, QueueSpec, resolve_effect

__all__ = ["ActionRefused", "EffectContext", "RowOutcome", "Outcome", "QueueRunner", "Change", "refused_row"]


class ActionRefused(Exception):
    """An action cannot be performed on a row; the message is shown to the operator."""


@dataclass
class EffectContext:
    """What an effect function receives: the row, its subject and the session."""

    session: Any
    queue: QueueSpec
    action: ActionSpec
    row: Any
    subject: Any
    operator: Operator
    note: str | None
    now: dt.datetime
    models: dict[str, type]

    def refuse(self, message: str) -> None:
        raise ActionRefused(message)

    def model(self, table: str) -> type:
        return self.models[table]


@dataclass
class RowOutcome:
    id: str
    done: bool
    message: str


@dataclass
class Outcome:
    action: ActionSpec
    rows: list[RowOutcome] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for r in self.rows if r.done)

    @property
    def skipped(self) -> list[RowOutcome]:
        return [r for r in self.rows if not r.done]


class QueueRunner:
    """Reads and acts on one queue's rows through a Flask-SQLAlchemy ``db``."""

    def __init__(self, queue: QueueSpec, db, reflection):
        self.queue = queue
        self.db = db
        self.models = {screen: entry.model for screen, entry in reflection.tables.items()}
        self.model = self.models[queue.table]
        self.subject_model = self.models.get(queue.subject_table) if queue.subject_table else None
        pk = reflection.tables[queue.table].primary_key
        if len(pk) != 1:
            raise ValueError(f"queue table {queue.table} needs a single-column primary key")
        self.pk = getattr(self.model, pk[0])

    # -- reading -----------------------------------------------------------------------
    def load(self, ids: Iterable[str], lock: bool = False) -> list[Any]:
        keys = [self._key(i) for i in ids]
        statement = select(self.model).where(self.pk.in_(keys)).order_by(self.pk)
        if lock:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return list(self.db.session.execute(statement).scalars())

    def subject_of(self, row) -> Any:
        if self.subject_model is None or not self.queue.subject_column:
            return None
        key = getattr(row, self.queue.subject_column)
        return None if key is None else self.db.session.get(self.subject_model, key)

    def _key(self, value: str):
        try:
            return self.pk.type.python_type(value)
        except (TypeError, ValueError, NotImplementedError):
            raise ActionRefused(f"'{value}' is not a valid id") from None

    def state(self, row) -> str:
        return getattr(row, self.queue.status)

    def blocked_reason(self, row, action: ActionSpec) -> str | None:
        """Why ``action`` cannot start from this row's current state, or None."""
        state = self.state(row)
        if state in action.from_states:
            return None
        who = getattr(row, self.queue.decided_by, None) if self.queue.decided_by else None
        when = getattr(row, self.queue.decided_at, None) if self.queue.decided_at else None
        detail = f" by {who}" if who else ""
        detail += f" at {when:%Y-%m-%d %H:%M} UTC" if isinstance(when, dt.datetime) else ""
        allowed = ", ".join(action.from_states)
        return f"is already {state}{detail}; {action.name} is allowed only from {allowed}"

    def preview(self, row, action: ActionSpec, operator: Operator) -> tuple[list[Change], str | None]:
        """The changes ``action`` would make to ``row`` and why it would be refused (read only)."""
        changes = [Change(f"{self.queue.status}", self.state(row), action.to)]
        blocked = self.blocked_reason(row, action)
        if blocked or not action.effect:
            return changes, blocked
        effect = resolve_effect(action.effect)
        preview = getattr(effect, "preview", None)
        if preview is None:
            return changes, None
        context = self._context(row, action, operator, None)
        try:
            changes.extend(preview(context))
        except ActionRefused as exc:
            return changes, str(exc)
        finally:
            self.db.session.rollback()
        return changes, None

    # -- acting ------------------------------------------------------------------------
    def perform(self, action: ActionSpec, ids: Iterable[str], operator: Operator, note: str | None) -> Outcome:
        outcome = Outcome(action=action)
        effect = resolve_effect(action.effect) if action.effect else None
        for raw_id in ids:
            outcome.rows.append(self._perform_one(action, str(raw_id), operator, note, effect))
        return outcome

    def _perform_one(self, action, raw_id, operator, note, effect) -> RowOutcome:
        session = self.db.session
        try:
            with audit_action(action=f"review.{action.name}", reason=note):
                self._begin_exclusive()
                row = self._lock_in_order(raw_id)
                blocked = self.exclusive_conflict(row, action) or self.blocked_reason(row, action)
                if blocked:
                    raise ActionRefused(blocked)
                context = self._context(row, action, operator, note)
                self._decide(row, action, context)
                if effect is not None:
                    effect(context)
            session.commit()
            return RowOutcome(raw_id, True, f"{action.to}")
        except (ActionRefused, AuditError, DBAPIError) as exc:
            return refused_row(session, raw_id, exc)

    def _lock_in_order(self, raw_id: str):
        """Subject row, then all of its queue rows, each ``FOR UPDATE`` (see the module docstring)."""
        rows = self.load([raw_id])  # unlocked: only to learn the subject
        if not rows:
            raise ActionRefused("no such row")
        column = self.queue.subject_column
        if self.subject_model is None or not column or getattr(rows[0], column) is None:
            rows = self.load([raw_id], lock=True)
            if not rows:
                raise ActionRefused("no such row")
            return rows[0]
        key = getattr(rows[0], column)
        subject_pk = self.subject_model.__mapper__.primary_key[0]
        self.db.session.execute(select(self.subject_model).where(subject_pk == key).with_for_update()
                                .execution_options(populate_existing=True))
        siblings = self.db.session.execute(
            select(self.model).where(getattr(self.model, column) == key).order_by(self.pk).with_for_update()
            .execution_options(populate_existing=True)).scalars().all()
        row = next((r for r in siblings if str(getattr(r, self.pk.key)) == str(self._key(raw_id))), None)
        if row is None:
            raise ActionRefused("this row was deleted or moved to another subject meanwhile; nothing was changed")
        return row

    def exclusive_conflict(self, row, action: ActionSpec) -> str | None:
        """For an exclusive action: why another row of the same subject already holds its state."""
        column = self.queue.subject_column
        if not action.exclusive or not column:
            return None
        holder = self.db.session.execute(
            select(self.model).where(getattr(self.model, column) == getattr(row, column),
                                     self.pk != getattr(row, self.pk.key),
                                     getattr(self.model, self.queue.status) == action.to)
            .order_by(self.pk).limit(1)).scalars().first()
        if holder is None:
            return None
        who = getattr(holder, self.queue.decided_by, None) if self.queue.decided_by else None
        when = getattr(holder, self.queue.decided_at, None) if self.queue.decided_at else None
        detail = f" by {who}" if who else ""
        detail += f" at {when:%Y-%m-%d %H:%M} UTC" if isinstance(when, dt.datetime) else ""
        subject = self.queue.subject_table or "subject"
        return (f"#{getattr(holder, self.pk.key)} of the same {subject} row ({column} "
                f"{getattr(row, column)}) was already {action.to}{detail}; only one may be {action.to}")

    def _begin_exclusive(self) -> None:
        """SQLite ignores FOR UPDATE: take its write lock before reading the row, so a
        concurrent action waits and then sees the decided state (PostgreSQL locks the row)."""
        connection = self.db.session.connection()
        if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    def _context(self, row, action, operator, note) -> EffectContext:
        return EffectContext(session=self.db.session, queue=self.queue, action=action, row=row,
                             subject=self.subject_of(row), operator=operator, note=note,
                             now=dt.datetime.now(dt.timezone.utc), models=self.models)

    def _decide(self, row, action: ActionSpec, context: EffectContext) -> None:
        queue = self.queue
        setattr(row, queue.status, action.to)
        decided = action.to not in (queue.default_state,)
        if queue.decided_by:
            setattr(row, queue.decided_by, context.operator.username if decided else None)
        if queue.decided_at:
            setattr(row, queue.decided_at, context.now if decided else None)
        if queue.note and (note := context.note) is not None:
            setattr(row, queue.note, note)
        if queue.updated_at:
            setattr(row, queue.updated_at, context.now)


def refused_row(session, raw_id: str, exc: Exception) -> RowOutcome:
    """The outcome of one row whose transaction failed (rolled back here): a refusal by an
    action, a hook or the database, in its own words. An unreachable database is raised
    again: the error pages say so (503)."""
    session.rollback()
    if isinstance(exc, IntegrityError):
        return RowOutcome(raw_id, False, f"the database refused the change ({_first_line(exc.orig)})")
    if isinstance(exc, DBAPIError):
        kind, sentence = describe_database_error(exc)
        if kind == "database error" or getattr(exc, "connection_invalidated", False):
            raise exc
        return RowOutcome(raw_id, False, sentence)
    return RowOutcome(raw_id, False, str(exc))


def _first_line(value: Any) -> str:
    return str(value).strip().splitlines()[0] if str(value).strip() else value.__class__.__name__
