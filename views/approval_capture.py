"""Turning a screen's save or delete into a held change (two-person approval).

:func:`approval_role` says whether a screen holds a kind of write for approval;
:func:`hold_edit` and :func:`hold_delete` record what the write would do (the rows, the old
values read from the database, the new values from the form) without applying anything, and
flash where the request went. The declarative options live here too (:func:`register_rules`).
"""
from __future__ import annotations

import datetime as dt

from flask import flash
from sqlalchemy import and_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import RelationshipDirection

from audit_hooks.changeset import json_value
from backoffice.core.access import ROLES
from backoffice.core.declarations import Option, Rules, did_you_mean, problem

from views.approval_store import KINDS, HeldRow, awaiting, hold
from views.names import db_session
from views.ux import flash_instead, row_label

__all__ = ["approval_role", "hold_create", "hold_edit", "hold_delete", "hold_revert", "hold_queue_decisions", "hold_declared_action", "register_rules", "check_approval_options",
           "APPROVAL_OPTIONS", "APPROVAL_PROBLEM_IDS", "DEFAULT_HOURS"]

DEFAULT_HOURS = 24
MAX_HOURS = 24 * 30
APPROVAL_OPTIONS = (
    Option("approval", "table", "Two-person approval: the kinds of write (create, edit, delete) held until another "
           "operator with the named role approves them: " + " | ".join(ROLES) + ".", None,
           'approval = { edit = "admin", delete = "admin" }'),
    Option("approval_hours", "int", f"Hours a held change waits for approval before it expires (1..{MAX_HOURS}).",
           DEFAULT_HOURS, "approval_hours = 8"),
)
APPROVAL_PROBLEM_IDS = {
    "backoffice.E034": "approval names an unknown role",
    "backoffice.E048": "approval names a kind of write other than create, edit or delete",
    "backoffice.E049": "approval_hours is not between 1 and 720",
    "backoffice.W019": "approval is declared for a write the screen does not allow (read-only or role \"nobody\")",
}


def check_approval_options(declarations, reflection):
    """``approval`` / ``approval_hours`` of every ``[views.*]`` entry (types are checked with the section)."""
    entries = {e.qualified_name: e for e in reflection.tables.values()} if reflection is not None else {}
    for key, spec in declarations.views.items():
        if not isinstance(spec, dict):
            continue
        hours = spec.get("approval_hours")
        if isinstance(hours, int) and not isinstance(hours, bool) and not 1 <= hours <= MAX_HOURS:
            yield problem("backoffice.E049", declarations, f"views.{key}.approval_hours",
                          f"{hours} is not between 1 and {MAX_HOURS}", table=key)
        approval = spec.get("approval")
        if not isinstance(approval, dict):
            continue
        entry = entries.get(key)
        read_only = spec.get("read_only") is True or (entry is not None and entry.read_only)
        for kind, role in approval.items():
            option = f"views.{key}.approval.{kind}"
            if kind not in KINDS:
                yield problem("backoffice.E048", declarations, option, f"'{kind}' is not a kind of write that can "
                              "wait for approval", table=key, hint=did_you_mean(kind, KINDS))
            elif not isinstance(role, str) or role not in ROLES:
                yield problem("backoffice.E034", declarations, option, f"unknown role {role!r}", table=key,
                              hint=did_you_mean(str(role), ROLES))
            elif read_only or spec.get(kind) == "nobody":
                yield problem("backoffice.W019", declarations, option,
                              f"the screen does not allow {kind}; the approval has no effect", table=key)


def register_rules(rules: Rules) -> None:
    """The ``approval`` and ``approval_hours`` options of ``[views.*]``, problem ids E034, E048, E049 / W019."""
    rules.declare_ids(APPROVAL_PROBLEM_IDS)
    rules.declare_options("views", *APPROVAL_OPTIONS)
    rules.add_check(check_approval_options)


def approval_role(view, kind: str) -> str | None:
    """The role that must approve ``kind`` writes of ``view``; None: applied at once."""
    role = (getattr(view, "approval", None) or {}).get(kind)
    return role if role in ROLES else None


def _key(entry, model) -> tuple[dict, str]:
    from audit_hooks.collector import entity_id

    mapper = sa_inspect(model).mapper
    values = [getattr(model, mapper.get_property_by_column(c).key) for c in mapper.primary_key]
    return {c.name: json_value(v) for c, v in zip(mapper.primary_key, values)}, entity_id(values)


def _current(session, entry, primary_key: dict) -> dict:
    table = entry.table
    with session.no_autoflush:
        row = session.execute(select(table).where(and_(*(table.c[k] == v for k, v in primary_key.items())))
                              ).mappings().first()
    return {k: json_value(v) for k, v in (row or {}).items()}


def _store(view, kind: str, rows: list[HeldRow], reason: str | None) -> int:
    return hold(db_session(view), entry=view.entry, screen=view.endpoint, kind=kind, role=approval_role(view, kind),
                hours=int(getattr(view, "approval_hours", DEFAULT_HOURS) or DEFAULT_HOURS), rows=rows, reason=reason)


def _form_values(session, model, changed_only: bool) -> dict | None:
    """Column -> JSON value the form set on ``model`` (only the changed ones for an edit);
    None when it touched a list of related rows, which a held change cannot carry (flashed)."""
    state = sa_inspect(model)
    new: dict = {}
    for attr in state.mapper.column_attrs:
        value = getattr(model, attr.key)
        if state.attrs[attr.key].history.has_changes() if changed_only else value is not None:
            new[attr.columns[0].name] = json_value(value)
    for rel in state.mapper.relationships:
        if not state.attrs[rel.key].history.has_changes():
            continue
        if rel.direction is not RelationshipDirection.MANYTOONE:
            flash(f"{rel.key} is a list of related rows, which a change waiting for approval cannot hold; "
                  "nothing was changed.", "error")
            return None
        target = getattr(model, rel.key)
        for local, remote in rel.local_remote_pairs:
            value = None if target is None else getattr(
                target, sa_inspect(target).mapper.get_property_by_column(remote).key)
            new[local.name] = json_value(value)
    return new


def hold_create(view, form, reason: str | None) -> bool:
    """Hold the row ``form`` would create for approval (its values; the database's defaults
    are left to the insert at approval). Returns True when a request was stored."""
    session = db_session(view)
    model = view.model()
    with session.no_autoflush:
        form.populate_obj(model)
        new = _form_values(session, model, changed_only=False)
    session.rollback()  # a relationship may have cascaded the new row into the session: drop it
    if new is None:
        return False
    key_columns = [c.name for c in view.entry.table.primary_key.columns]
    primary_key = {c: new.get(c) for c in key_columns}
    entity = "/".join(str(v) for v in primary_key.values()) if None not in primary_key.values() else "(new)"
    request_id = _store(view, "create", [HeldRow(primary_key, entity, {}, new)], reason)
    flash_instead(f"The new record waits for approval by another {approval_role(view, 'create')} "
                  f"(request #{request_id}); nothing has been created yet.", "success")
    return True


def hold_edit(view, form, model, reason: str | None) -> bool:
    """Hold the edit ``form`` would make to ``model`` for approval; nothing is written to the
    row. Returns True when a request was stored (False: refused, with a flash)."""
    session = db_session(view)
    primary_key, entity = _key(view.entry, model)
    before = _current(session, view.entry, primary_key)
    label = row_label(view, model)
    with session.no_autoflush:
        form.populate_obj(model)
        new = _form_values(session, model, changed_only=True)
    if new is None:
        session.rollback()
        return False
    session.rollback()  # the form's values were only read: the row stays as it is
    new = {k: v for k, v in new.items() if before.get(k) != v}
    if not new:
        flash_instead(f"Nothing to change in {label}; no approval was requested.", "success")
        return True
    old = {k: before.get(k) for k in new}
    request_id = _store(view, "edit", [HeldRow(primary_key, entity, old, new)], reason)
    flash_instead(f"The change to {label} waits for approval by another {approval_role(view, 'edit')} "
                  f"(request #{request_id}); nothing has changed yet.", "success")
    return True


def hold_delete(view, models, reason: str | None) -> int:
    """Hold the deletion of ``models`` for approval (nothing is deleted); returns the request id."""
    session = db_session(view)
    rows = []
    for model in models:
        primary_key, entity = _key(view.entry, model)
        rows.append(HeldRow(primary_key, entity, _current(session, view.entry, primary_key), {}))
    labels = ", ".join(row_label(view, m) for m in models[:5]) + ("..." if len(models) > 5 else "")
    session.rollback()
    request_id = _store(view, "delete", rows, reason)
    flash_instead(f"Deleting {labels} waits for approval by another {approval_role(view, 'delete')} "
                  f"(request #{request_id}); nothing has been deleted yet.", "success")
    return request_id


def hold_queue_decisions(view, action, rows, reason: str | None) -> tuple[list[int], list[str]]:
    """Hold one request per queue row for ``action`` (the queue row keeps its state and shows
    "pending approval"); returns the request ids and the ids of rows skipped (already waiting)."""
    session = view.db.session
    waiting = awaiting(session, view.endpoint)
    entry = view.reflection.tables[view.queue.table]
    column = entry.table.c[view.queue.status]
    requests, skipped = [], []
    for row in rows:
        key = getattr(row, view.runner.pk.key)
        if str(key) in waiting:
            skipped.append(str(key))
            continue
        state = json_value(getattr(row, view.queue.status))
        held = HeldRow({entry.primary_key[0]: json_value(key)}, str(key), {column.name: state},
                       {column.name: action.to})
        requests.append(hold(session, entry=entry, screen=view.endpoint, kind="queue", role=action.approval,
                             hours=action.approval_hours or DEFAULT_HOURS, rows=[held], reason=reason, action=action.name))
    session.rollback()
    return requests, skipped


def hold_declared_action(view, action, role: str, models, values: dict, reason: str | None) -> int | None:
    """Hold a declared row action on ``models`` (the values it would set, ``now()`` resolved at
    the request) as one request; nothing is written to the rows."""
    session = db_session(view)
    at = dt.datetime.now(dt.timezone.utc)
    rows = []
    for model in models:
        primary_key, entity = _key(view.entry, model)
        before = _current(session, view.entry, primary_key)
        new = {}
        for column, value in values.items():
            if value == "now()":
                value = at if view.entry.table.c[column].type.python_type is dt.datetime else at.date()
            new[column] = json_value(None if value == "null()" else value)
        rows.append(HeldRow(primary_key, entity, {c: before.get(c) for c in new}, new))
    session.rollback()
    if not rows:
        flash("None of the selected records exists any more; nothing was requested.", "error")
        return None
    request_id = hold(session, entry=view.entry, screen=view.endpoint, kind="action", role=role,
                      hours=int(getattr(view, "approval_hours", DEFAULT_HOURS) or DEFAULT_HOURS), rows=rows,
                      reason=reason, action=action.name)
    flash(f"{action.label} on {len(rows)} row(s) waits for approval by another {role} (request #{request_id}); "
          "nothing has changed yet.", "success")
    return request_id


def hold_revert(session, screen, role: str, event_id: int, mode: str, steps, reason: str) -> int:
    """Hold the revert of audit event ``event_id`` (its planned rows: as they are now -> as they
    will be) for approval; on approval the revert is planned and executed again, conflicts too."""
    rows = [HeldRow(step.key, step.entity_id, dict(step.now or {}), dict(step.before)) for step in steps]
    session.rollback()
    return hold(session, entry=screen.entry, screen=screen.endpoint, kind="revert", role=role,
                hours=int(getattr(screen, "approval_hours", DEFAULT_HOURS) or DEFAULT_HOURS), rows=rows,
                reason=reason, action=f"{event_id}:{mode}")
