"""Two-person approval: what a held change is, how it is stored, signed, decided and applied.

A screen declares ``approval = { edit = "admin", delete = "admin" }``: a save or delete of it is
then not applied but held as a row of ``backoffice_approval_requests`` (the rows and their
old -> new values, who, when, why), signed with an HMAC keyed by the console's SECRET_KEY so a
request edited in the database is refused. Another operator holding the role approves it (the
change is applied in one transaction through the audit hooks, the data's audit rows name the
approver as actor and the requester in the reason) or rejects it with a reason. Every step is an
audit row of its own (``approval.requested`` / ``.approved`` / ``.rejected`` / ``.refused``).

Approving refuses, with the reason: the requester themself (whatever their role), an expired
request, a tampered one, one decided already (two approvers racing: the request row is locked
and claimed with ``UPDATE ... WHERE status = 'pending'``, so exactly one applies), one reopened
in the database (its status is not signed, but every decision is an audit row of the hash-chained
trail: a request the trail shows decided is refused), and a conflict (views/approval_apply.py).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, select, update

from audit_hooks import ChangeSet, RowChange, audit_action
from audit_hooks.changeset import json_value
from backoffice.core.access import current_operator
from models.own import approval_requests, audit_events

from views.approval_apply import Conflict, apply, conflicts

__all__ = ["ApprovalRefused", "ConflictRefused", "Conflict", "HeldRow", "KINDS", "note_of", "awaiting", "hold", "decide", "verify", "load", "pending_count",
           "is_expired", "now", "decided_in_trail"]

KINDS = ("create", "edit", "delete")  # a screen's ``approval``; queues, declared actions and reverts add
#: "queue", "action" and "revert"
_SIGNED = ("created_at", "expires_at", "requester", "requester_role", "kind", "action", "entity_type", "screen",
           "role", "reason", "rows")


class ApprovalRefused(Exception):
    """The decision cannot be made; the message says why (nothing was changed)."""


class ConflictRefused(ApprovalRefused):
    """Approval refused because rows changed since the request (``conflicts`` lists them)."""

    def __init__(self, conflicts: list[Conflict]):
        self.conflicts = conflicts
        super().__init__(f"{len(conflicts)} row(s) changed since the request; nothing was applied")


@dataclass
class HeldRow:
    """One row of a held change: its key, and the values before and after."""

    primary_key: dict[str, Any]
    entity_id: str
    old: dict[str, Any] = field(default_factory=dict)
    new: dict[str, Any] = field(default_factory=dict)


class _Step(RowChange):
    """An audit row for one approval step: no data change, the request's facts."""

    def as_changes(self) -> dict[str, Any]:
        return dict(self.new)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC whatever the driver returned (SQLite gives naive UTC back)."""
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _canonical(values: dict) -> bytes:
    fields = {k: _utc(values[k]).isoformat() if isinstance(values[k], dt.datetime) else values[k] for k in _SIGNED}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def _sign(values: dict) -> str:
    key = hmac.new(str(current_app.config["SECRET_KEY"]).encode(), b"backoffice approval requests",
                   hashlib.sha256).digest()
    return hmac.new(key, _canonical(values), hashlib.sha256).hexdigest()


def verify(row: dict) -> bool:
    """True when every field the requester fixed is as it was signed."""
    return hmac.compare_digest(_sign(row), str(row.get("signature") or ""))


def is_expired(row: dict, at: dt.datetime | None = None) -> bool:
    return _utc(row["expires_at"]) <= (at or now())


def _record(session, action: str, request: dict, extra: dict, reason: str | None = None) -> None:
    """One audit row per held row for the step ``action``, in the session's transaction."""
    changeset = ChangeSet.build([])
    changeset.action, changeset.explicit_action, changeset.reason = action, True, reason
    facts = {"op": action, "request": request["id"], "kind": request["kind"], "requester": request["requester"],
             "role": request["role"], **extra}
    changeset.rows = [_Step(table=request["entity_type"], op=action, primary_key=r["primary_key"],
                            entity_id=r["entity_id"], new={**facts, "old": r["old"], "new": r["new"]})
                      for r in request["rows"]]
    changeset.connection = session.connection()
    current_app.extensions["backoffice.audit"].hook.audit_changeset(changeset=changeset)


def hold(session, *, entry, screen: str, kind: str, role: str, hours: int, rows: list[HeldRow],
         reason: str | None, action: str | None = None) -> int:
    """Store a change for approval (and its ``approval.requested`` audit rows); commits. Returns its id."""
    operator = current_operator()
    created = now()
    values = {"created_at": created, "expires_at": created + dt.timedelta(hours=hours),
              "requester": operator.username[:200], "requester_role": operator.role, "kind": kind, "action": action,
              "entity_type": entry.qualified_name, "screen": screen[:300], "role": role, "reason": reason or None,
              "rows": [json_value(r.__dict__) for r in rows]}
    values["signature"] = _sign(values)
    try:
        new_id = session.execute(insert(approval_requests).values(**values, status="pending")).inserted_primary_key[0]
        _record(session, "approval.requested", {**values, "id": new_id},
                {"expires_at": values["expires_at"].isoformat()}, reason)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return new_id


def load(session, request_id: int, lock: bool = False) -> dict | None:
    query = select(approval_requests).where(approval_requests.c.id == request_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def pending_count(session, roles_allowed) -> int:
    return session.execute(select(func.count()).select_from(approval_requests).where(
        approval_requests.c.status == "pending", approval_requests.c.expires_at > now(),
        approval_requests.c.role.in_(list(roles_allowed)))).scalar() or 0


def awaiting(session, screen: str) -> dict[str, int]:
    """Entity id -> id of the pending, unexpired request holding it, for one screen (queue markers)."""
    found: dict[str, int] = {}
    for request_id, rows in session.execute(select(approval_requests.c.id, approval_requests.c.rows).where(
            approval_requests.c.screen == screen, approval_requests.c.status == "pending",
            approval_requests.c.expires_at > now())):
        for row in rows:
            found.setdefault(str(row["entity_id"]), request_id)
    return found


def decided_in_trail(session, request: dict) -> str | None:
    """The decision the audit trail holds for ``request`` (``approval.approved`` / ``.rejected``),
    or None. The trail is append-only and hash-chained, so a request whose row was reopened in
    the database (status back to 'pending', decision cleared) is still known as decided."""
    return session.execute(select(audit_events.c.action).where(
        audit_events.c.action.in_(("approval.approved", "approval.rejected")),
        audit_events.c.entity_type == request["entity_type"],
        audit_events.c.changes["request"].as_integer() == int(request["id"])).limit(1)).scalar()


def note_of(request: dict, approver: str, reason: str | None) -> str:
    """The reason recorded with the applied change: both names, both reasons."""
    return (f"approval #{request['id']} requested by {request['requester']}"
            + (f": {request['reason']}" if request["reason"] else "") + f"; approved by {approver}"
            + (f": {reason}" if reason else ""))


def _refusal(session, request: dict, approve: bool, reason: str | None, username: str) -> str | None:
    """Why ``username`` may not decide ``request`` now, or None."""
    if request["requester"] == username:
        return "you requested this change: another operator must decide it"
    if request["status"] != "pending":
        return f"the request was already {request['status']} by {request['decided_by']}"
    if request["decided_by"] or request["decided_at"]:
        return "the request was altered in the database (a decided request marked pending again)"
    if not verify(request):
        return "the request was altered in the database since it was signed; it cannot be decided"
    decided = decided_in_trail(session, request)
    if decided:
        return (f"the request was altered in the database: the audit trail records it {decided.split('.')[1]}, "
                "yet it is marked pending again")
    if approve and is_expired(request):
        return f"the request expired at {_utc(request['expires_at']).isoformat()}"
    if not approve and not reason:
        return "a reason is required to reject a request"
    return None


def decide(session, reflection, request_id: int, *, approve: bool, reason: str | None, run_queue=None,
           run_revert=None, may_apply=None) -> dict:
    """Approve (apply) or reject a pending request as the current operator, in one transaction.
    Raises :class:`ApprovalRefused` (or :class:`ConflictRefused`) with the reason; a refusal of
    an expired or tampered request is audited (``approval.refused``).

    ``may_apply(request)`` (the screens' owner) says why the operator may not make the change
    itself (the screen's own role for it), or None; it is asked before approving.
    A queue request is applied by ``run_queue(request, note)``: the queue's own runner, which
    commits the claim, the step's audit row and the decision together, or rolls them all back
    and returns why. A revert request is applied by ``run_revert(request, note)`` the same way."""
    operator = current_operator()
    reason = (reason or "").strip() or None
    if approve and may_apply is not None:
        preview = load(session, request_id)
        why = None if preview is None else may_apply(preview)
        session.rollback()
        if why:
            raise ApprovalRefused(why)
    request = load(session, request_id, lock=True)
    if request is None:
        raise LookupError(request_id)
    refusal = _refusal(session, request, approve, reason, operator.username)
    if refusal:
        if "altered" in refusal or "expired" in refusal:
            _record(session, "approval.refused", request, {"refused_by": operator.username, "why": refusal})
            session.commit()
        else:
            session.rollback()
        raise ApprovalRefused(refusal)
    entry = next((e for e in reflection.tables.values() if e.qualified_name == request["entity_type"]), None)
    if approve and (entry is None or entry.model is None):
        session.rollback()
        raise ApprovalRefused(f"the table {request['entity_type']} has no screen any more")
    claimed = session.execute(update(approval_requests).where(
        approval_requests.c.id == request_id, approval_requests.c.status == "pending").values(
        status="approved" if approve else "rejected", decided_by=operator.username[:200], decided_at=now(),
        decision_reason=reason)).rowcount
    if claimed != 1:  # another approver decided it between our read and our claim
        session.rollback()
        raise ApprovalRefused("the request was decided by someone else just now")
    runner = {"queue": run_queue, "revert": run_revert}.get(request["kind"]) if approve else None
    try:
        if approve and request["kind"] != "revert":  # a revert is planned (conflicts too) by its own owner
            # a queue row is locked by its runner (subject first): no lock here, the runner re-checks
            found = conflicts(session, entry, request, lock=request["kind"] != "queue")
            if found:
                session.rollback()
                raise ConflictRefused(found)
            if runner is None:
                named = f"action.{request['action']}" if request["kind"] == "action" else None
                with audit_action(named, reason=note_of(request, operator.username, reason)):
                    apply(session, entry, request)
        _record(session, "approval.approved" if approve else "approval.rejected", request,
                {"approver" if approve else "rejected_by": operator.username}, reason)
        if runner is not None:
            refused = runner(request, note_of(request, operator.username, reason))
            if refused:
                raise ApprovalRefused(f"the {request['kind']} refused the decision: {refused}")
        else:
            session.commit()
    except Exception:
        session.rollback()
        raise
    return request
