"""Undo an audited change: plan it, show its conflicts, then write it through the session.

A revert is a change like any other: it writes only through the application's session,
inside :func:`~audit_hooks.changeset.audit_action` (action ``revert``, the reason, and
``changes["reverts"]`` = the undone event's id), so the hooks audit it in the same
transaction. What each kind of event becomes:

* an update: the changed columns get their old values back;
* a create: the row is deleted (the database's cascades are audited as for any delete);
* a delete: the row is inserted again, then every row the database deleted or changed
  with it (audit rows whose ``caused_by`` leads to it), parents before children;
* a revert: the same rules applied to the revert's own rows (a revert of a revert).

:func:`plan_revert` compares the event with the row as it is now and lists conflicts:
``changed`` (a column differs from the event's new value), ``gone`` (the row no longer
exists), ``key_taken`` (another row holds its primary or unique key), ``missing_parent``
(a foreign-key target no longer exists). :func:`execute_revert` takes the audit chain's
lock, re-plans, refuses when the event was already reverted (two operators at once give
one revert) and applies the plan in one transaction according to the mode: ``clean``
refuses any conflict, ``partial`` leaves conflicting columns as they are, ``overwrite``
writes over changed columns (never over a structural conflict).
"""
from __future__ import annotations

from sqlalchemy import false, select, update

from models.own import audit_events, submissions

from audit_hooks.changeset import audit_action
from audit_hooks.chain import lock
from audit_hooks.errors import AuditError
from audit_hooks.revert_plan import (
    MODES, REVERT_ACTIONS, REVERTIBLE_ACTIONS, Conflict, RevertOutcome, RevertPlan, RevertRefused, Step, Tables,
    load_event, plan_revert, python_value, request_events, reverted_by,
)

__all__ = ["REVERTIBLE_ACTIONS", "REVERT_ACTIONS", "Conflict", "Step", "RevertPlan", "RevertOutcome", "RevertRefused",
           "MODES", "plan_revert", "execute_revert", "reverted_by", "request_events", "revert_request", "load_event"]


def _apply(session, tables: Tables, step: Step, columns: list[str], reason: str, action: str) -> None:
    entry = tables.get(step.table)
    table, model = entry.table, entry.model
    with audit_action(action, reason=reason, reverts=step.event_id):
        if step.op == "insert":
            values = {entry.key(c): python_value(table.c[c], v) for c, v in step.before.items() if c in table.c}
            session.add(model(**values))
            return
        key = tuple(python_value(table.c[c.name], step.key[c.name]) for c in entry.table.primary_key.columns)
        obj = session.get(model, key if len(key) != 1 else key[0], populate_existing=True)
        if obj is None:
            raise RevertRefused(f"{step.table} #{step.entity_id} no longer exists")
        if step.op == "delete":
            session.delete(obj)
            return
        for column in columns:
            setattr(obj, entry.key(column), python_value(table.c[column], step.before.get(column)))


def _serialise(connection) -> None:
    """One revert at a time, held to the commit: the second then plans against the first's
    result and finds its audit row. PostgreSQL: the audit chain's advisory lock. SQLite
    reads outside a transaction until the first write, so a write that changes nothing
    (on the console's own table) takes the database's write lock before the plan is read."""
    if connection.dialect.name == "sqlite":
        connection.execute(update(submissions).where(false()).values(nonce=submissions.c.nonce))
    else:
        lock(connection)


def execute_revert(session, reflection, event_id: int, reason: str, mode: str = "clean",
                   decisions=None) -> RevertOutcome:
    """Revert one event in one transaction and commit; refused (nothing written) when it was
    already reverted, when a conflict stands in the mode's way, or when the database refuses.

    The confirm -> execute flow of the revert pages calls this; so may any other flow
    (two-person approval) once it has its reason and mode."""
    if mode not in MODES:
        raise RevertRefused(f"mode must be one of {', '.join(MODES)}")
    if not isinstance(reason, str) or not reason.strip():
        raise RevertRefused("a reason is required to revert a change")
    try:
        _serialise(session.connection())
        plan = plan_revert(session, reflection, event_id, decisions)
        if plan.reverted_by is not None:
            raise RevertRefused(f"event #{event_id} was already reverted by #{plan.reverted_by}")
        if plan.refusal:
            raise RevertRefused(plan.refusal)
        for step in plan.steps:
            if step.structural:
                raise RevertRefused(f"{step.table} #{step.entity_id}: {step.structural[0].message}")
            if step.changed_columns and mode == "clean":
                raise RevertRefused(f"{step.table} #{step.entity_id} was changed after this event "
                                    f"({', '.join(sorted(step.changed_columns))}); revert the other columns "
                                    "only, or overwrite with a reason")
        tables = Tables(reflection)
        first = session.execute(select(audit_events.c.id).order_by(audit_events.c.id.desc()).limit(1)).scalar()
        action = "revert" if plan.event["action"] in REVERTIBLE_ACTIONS else "review.revert"
        for step in plan.steps:
            columns = [c for c in step.before if mode == "overwrite" or c not in step.changed_columns]
            if step.op == "update" and not columns:
                continue
            _apply(session, tables, step, columns, reason.strip(), action)
        ids = list(session.execute(select(audit_events.c.id).where(
            audit_events.c.id > (first or 0), audit_events.c.action == action).order_by(audit_events.c.id)).scalars())
        if not ids:
            raise RevertRefused("nothing to revert: every column it changed was changed again since")
        session.commit()
    except RevertRefused:
        session.rollback()
        raise
    except AuditError as exc:
        session.rollback()
        raise RevertRefused(str(exc)) from exc
    except Exception as exc:
        session.rollback()
        raise RevertRefused(f"the database refused the revert: {str(exc).splitlines()[0][:300]}") from exc
    return RevertOutcome(event_id, True, f"event #{event_id} reverted by #{ids[0]}", ids)


def revert_request(session, reflection, request_id: str, reason: str, mode: str = "clean",
                   decisions=None) -> list[RevertOutcome]:
    """Revert every event one request wrote, newest first (the undo order), each row in its own
    transaction; the outcome of each says what happened."""
    outcomes = []
    for event in reversed(request_events(session.connection(), request_id)):
        session.rollback()
        try:
            outcomes.append(execute_revert(session, reflection, event["id"], reason, mode, decisions))
        except RevertRefused as exc:
            outcomes.append(RevertOutcome(event["id"], False, str(exc)))
    return outcomes

