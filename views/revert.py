"""Revert and restore pages: /admin/revert/ (one event), /admin/revert/request (every event of one
request), /admin/revert/deleted/<table> ("Recently deleted").

*Confirm* (GET) plans the revert (audit_hooks/revert.py) and shows, row by row, each column
before the event, after it and now, with every conflict; it issues a signed token bound to the
event (or request) id. *Execute* (POST, CSRF like every POST) checks the token, the role and the
reason, then calls :func:`confirm_and_execute` - the one function any other flow (two-person
approval) calls with the same arguments. An operator below the needed role gets 404.

The role a revert needs is, per table, the role the original change needed on its screen
(``edit_role`` for an update, ``create_role`` for a create, ``delete_role`` for a delete),
unless the screen names ``revert_role``; ``revert = false`` on a screen switches it off.
"""
from __future__ import annotations

import datetime as dt

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from backoffice.core.access import ROLES, current_operator
from backoffice.core.declarations import Option, Rules, did_you_mean, problem
from models.own import audit_events

from audit_hooks.revert import (
    MODES, REVERTIBLE_ACTIONS, RevertOutcome, RevertRefused, execute_revert, plan_revert, request_events, revert_request, reverted_by,
)
from views.access import RoleGuardMixin
from views.approval_capture import approval_role, hold_revert
from views.names import AUDIT_VIEW_ROLE, endpoint_for, views_of

__all__ = ["RevertView", "confirm_and_execute", "may_revert", "decisions", "revert_role_for", "may_offer_revert", "register_rules", "check_revert_options",
           "REVERT_OPTIONS", "REVERT_PROBLEM_IDS", "TOKEN_MAX_AGE"]

TOKEN_MAX_AGE = 3600
REVERT_OPTIONS = (
    Option("revert", "bool", "Whether changes of this table can be reverted and its deleted rows restored "
           "(audit history, \"Recently deleted\").", True, "revert = false"),
    Option("revert_role", "str", "Least role that may revert a change of this table: " + " | ".join(ROLES)
           + ". Default: the role the original change needed (edit for an update, create for a create, "
           "delete for a delete).", "the original change's role", 'revert_role = "admin"'),
)
REVERT_PROBLEM_IDS = {
    "backoffice.E037": "revert_role names an unknown role",
    "backoffice.W016": "revert_role is set on a screen whose revert is off: it has no effect",
}
PAGE_SIZE = 50
_ORIGINAL_ROLE = {"insert": "create_role", "update": "edit_role", "delete": "delete_role"}


def check_revert_options(declarations, reflection):
    """``revert`` / ``revert_role`` of every ``[views.*]`` entry (types are checked with the section)."""
    for key, spec in declarations.views.items():
        if not isinstance(spec, dict):
            continue
        role = spec.get("revert_role")
        if isinstance(role, str) and role not in ROLES:
            yield problem("backoffice.E037", declarations, f"views.{key}.revert_role", f"unknown role '{role}'",
                          table=key, hint=did_you_mean(role, ROLES))
        elif role is not None and spec.get("revert") is False:
            yield problem("backoffice.W016", declarations, f"views.{key}.revert_role",
                          "revert is false on this screen; revert_role has no effect", table=key)


def register_rules(rules: Rules) -> None:
    """The ``revert`` and ``revert_role`` options of ``[views.*]``, problem ids E037 / W016."""
    rules.declare_ids(REVERT_PROBLEM_IDS)
    rules.declare_options("views", *REVERT_OPTIONS)
    rules.add_check(check_revert_options)


def _screen_of(table: str):
    for view in views_of(current_app):
        entry = getattr(view, "entry", None)
        if entry is not None and entry.qualified_name == table:
            return view
    return None


def revert_role_for(table: str, original_op: str) -> str | None:
    """The least role that may revert a ``original_op`` change of ``table``; None: nobody
    (no screen, or the screen switches revert off)."""
    screen = _screen_of(table)
    if screen is None or not getattr(screen, "revert", True):
        return None
    return getattr(screen, "revert_role", None) or getattr(screen, _ORIGINAL_ROLE.get(original_op, "edit_role"), None)


def _hidden_columns(table: str) -> set[str]:
    """Columns the table's screen declares ``never_show``: the confirmation masks them too."""
    screen = _screen_of(table)
    never = getattr(screen, "never_show", None) or ()
    return {c.name for c in screen.entry.table.columns if c.key in never or c.name in never} if never else set()


def _queue_actions() -> dict[str, list]:
    """Audit action name ("review.apply") -> the queue actions it may come from."""
    found: dict[str, list] = {}
    for view in views_of(current_app):
        queue = getattr(view, "queue", None)
        for action in getattr(queue, "actions", {}).values():
            found.setdefault(f"review.{action.name}", []).append(action)
    return found


def decisions(event: dict) -> str | None:
    """Whether a queue decision may be reversed (None) or why not: its queue's ``reverse``."""
    actions = _queue_actions().get(event["action"], [])
    if not actions:
        return f"no queue of this console has the action {event['action']!r}"
    if not all(a.reversible for a in actions):
        return f"the queue declares {event['action']!r} irreversible (reverse = \"none\")"
    return None


def _may_revert(plan) -> bool:
    operator = current_operator()
    if plan.event["action"] not in REVERTIBLE_ACTIONS:  # a queue decision: the action's own role
        actions = _queue_actions().get(plan.event["action"], [])
        return bool(actions) and all(operator.may(a.role) for a in actions)
    events = [plan.event] + [{"entity_type": s.table, "changes": {"op": {"insert": "delete", "delete": "insert"}
                              .get(s.op, s.op)}} for s in plan.steps[1:]]
    for event in events:
        op = (event.get("changes") or {}).get("op", "update")
        role = revert_role_for(event["entity_type"], op)
        if role is None or not operator.may(role):
            return False
    return True


def may_offer_revert(event: dict) -> bool:
    """Whether a page may offer "Revert..." for ``event`` to the current operator: the role
    the event's own revert needs (the confirmation still checks the cascade and conflicts)."""
    operator = current_operator()
    if event["action"] not in REVERTIBLE_ACTIONS:  # a queue decision: the action's own role
        actions = _queue_actions().get(event["action"], [])
        return bool(actions) and all(operator.may(a.role) for a in actions)
    role = revert_role_for(event["entity_type"], (event.get("changes") or {}).get("op", "update"))
    return role is not None and operator.may(role)


def may_revert(db, reflection, event_id: int) -> bool:
    """Whether the current operator holds every role reverting ``event_id`` needs (reads only;
    ends the session's transaction)."""
    plan = plan_revert(db.session, reflection, event_id, decisions)
    allowed = _may_revert(plan)
    db.session.rollback()
    return allowed


_HELD_KIND = {"update": "edit", "insert": "create", "delete": "delete"}  # what the revert's first step does


def _approval_needed(plan) -> str | None:
    """The approval role one of the plan's rows needs for the write the revert does to it
    (every step counts: a restored delete also re-inserts its cascaded rows), or None."""
    for step in plan.steps:
        screen = _screen_of(step.table)
        role = None if screen is None else approval_role(screen, _HELD_KIND.get(step.op, "edit"))
        if role is not None:
            return role
    return None


def _held_revert(db, reflection, event_id: int, reason: str, mode: str) -> int | None:
    """When the reverted row's screen holds the kind of write the revert performs (a revert of
    an update is an edit, of a create a delete, of a delete a create) for approval: store the
    revert as a request (applied on approval through execute_revert) and return its id."""
    plan = plan_revert(db.session, reflection, event_id, decisions)
    screen = _screen_of(plan.steps[0].table) if plan.steps else None
    role = _approval_needed(plan)
    if role is None or screen is None:
        db.session.rollback()
        return None
    if mode not in MODES or not reason:
        db.session.rollback()
        raise RevertRefused("a reason is required to revert a change" if not reason else
                            f"mode must be one of {', '.join(MODES)}")
    refusal = plan.refusal or (f"event #{event_id} was already reverted by #{plan.reverted_by}"
                               if plan.reverted_by is not None else None)
    if refusal:
        db.session.rollback()
        raise RevertRefused(refusal)
    return hold_revert(db.session, screen, role, event_id, mode, plan.steps, reason)


def confirm_and_execute(db, reflection, event_id: int, reason: str, mode: str = "clean") -> RevertOutcome:
    """The execute half of a confirmed revert: role check (404 when not allowed); then, when
    the table holds that kind of write for approval, a request (``RevertOutcome.held``), else
    :func:`~audit_hooks.revert.execute_revert`. Raises :class:`RevertRefused` with a message
    for the operator."""
    if not may_revert(db, reflection, event_id):
        abort(404)
    held = _held_revert(db, reflection, event_id, reason, mode)
    if held is not None:
        return RevertOutcome(event_id, False, f"request #{held}", [])
    return execute_revert(db.session, reflection, event_id, reason, mode, decisions)


class RevertView(RoleGuardMixin, BaseView):
    """Confirm and execute reverts of audited changes; the "Recently deleted" list per table.
    Below ``view_role`` every page and POST of it is a missing page, checked before CSRF."""

    view_role: str | None = AUDIT_VIEW_ROLE

    def __init__(self, db, reflection, **kwargs):
        self.db = db
        self.reflection = reflection
        self.screens = {entry.qualified_name: screen for screen, entry in reflection.tables.items()}
        kwargs.setdefault("name", "Revert")
        kwargs.setdefault("endpoint", "revert")
        kwargs.setdefault("url", "/admin/revert")
        super().__init__(**kwargs)

    def is_visible(self) -> bool:
        return False  # reached from the audit history, a record's page and "Recently deleted"


    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="revert")

    def _bound(self) -> dict:
        try:
            return self._serializer().loads(request.form.get("token", ""), max_age=TOKEN_MAX_AGE)
        except BadSignature:
            abort(400, description="The confirmation token is invalid or expired; nothing was changed.")

    # -- one event -------------------------------------------------------------------------
    @expose("/", methods=("GET",))
    def index_view(self):
        event_id = request.args.get("event", type=int)
        if event_id is None:
            abort(404)
        return self._confirm(event_id)

    def _confirm(self, event_id: int, reason: str = "", mode: str = "clean", status: int = 200):
        try:
            plan = plan_revert(self.db.session, self.reflection, event_id, decisions)
        except RevertRefused:
            abort(404)
        finally:
            self.db.session.rollback()
        if not _may_revert(plan):
            abort(404)
        token = self._serializer().dumps({"event": event_id})
        return self.render("backoffice/audit/revert.html", plan=plan, token=token, reason=reason, mode=mode,
                           modes=MODES, record_url=self._record_url, hidden=_hidden_columns), status

    @expose("/", methods=("POST",))
    def execute_view(self):
        event_id = self._bound().get("event")
        if not isinstance(event_id, int):
            abort(400, description="The confirmation token names no event; nothing was changed.")
        reason, mode = request.form.get("reason", "").strip(), request.form.get("mode", "clean")
        try:
            outcome = confirm_and_execute(self.db, self.reflection, event_id, reason, mode)
        except RevertRefused as exc:
            flash(f"Nothing was reverted: {exc}", "error")
            return self._confirm(event_id, reason, mode, status=409)
        if not outcome.done:  # held for a second operator's approval
            flash(f"Reverting event #{event_id} waits for approval by another operator ({outcome.message}); "
                  "nothing has changed yet.", "success")
        else:
            flash(f"Event #{event_id} was reverted by #{outcome.revert_ids[0]}.", "success")
        return redirect(url_for("audit.index_view", entity=self._entity(event_id)))

    def _entity(self, event_id: int) -> str | None:
        return self.db.session.execute(select(audit_events.c.entity_id).where(audit_events.c.id == event_id)).scalar()

    def _record_url(self, table: str, entity: str) -> str | None:
        screen = self.screens.get(table)
        return None if screen is None else url_for(endpoint_for(screen) + ".details_view", id=entity)

    # -- one request -----------------------------------------------------------------------
    @expose("/request", methods=("GET",))
    def request_view(self):
        rid = request.args.get("rid", "").strip()
        events = request_events(self.db.session.connection(), rid) if rid else []
        if not events:
            abort(404)
        plans = []
        for event in reversed(events):
            try:
                plans.append(plan_revert(self.db.session, self.reflection, event["id"], decisions))
            except RevertRefused:
                continue
        self.db.session.rollback()
        if not plans or not all(_may_revert(p) for p in plans):
            abort(404)
        token = self._serializer().dumps({"request": rid})
        return self.render("backoffice/audit/revert_request.html", rid=rid, plans=plans, token=token, outcomes=None)

    @expose("/request", methods=("POST",))
    def request_execute_view(self):
        rid = self._bound().get("request")
        if not isinstance(rid, str):
            abort(400, description="The confirmation token names no request; nothing was changed.")
        events = request_events(self.db.session.connection(), rid)
        held = False
        for event in events:
            plan = plan_revert(self.db.session, self.reflection, event["id"], decisions)
            if not plan.refusal and not _may_revert(plan):
                abort(404)
            held = held or (not plan.refusal and _approval_needed(plan) is not None)
        self.db.session.rollback()
        if held:  # a whole request at once would skip the approval its rows need
            flash("Nothing was reverted: some of these changes need a second operator's approval. Revert them "
                  "one by one from the audit history; each becomes an approval request.", "error")
            return redirect(url_for(".request_view", rid=rid))
        reason = request.form.get("reason", "").strip()
        if not reason:
            flash("Nothing was reverted: a reason is required to revert a change", "error")
            return redirect(url_for(".request_view", rid=rid))
        outcomes = revert_request(self.db.session, self.reflection, rid, reason, request.form.get("mode", "clean"),
                                  decisions)
        done = sum(1 for o in outcomes if o.done)
        flash(f"{done} of {len(outcomes)} change(s) of request {rid} reverted; the others are listed with "
              "the reason.", "success" if done == len(outcomes) else "warning")
        return self.render("backoffice/audit/revert_request.html", rid=rid, plans=[], token=None, outcomes=outcomes)

    # -- recently deleted ------------------------------------------------------------------
    @expose("/deleted/<path:table>")
    def deleted_view(self, table: str):
        screen = _screen_of(table)
        role = revert_role_for(table, "delete")
        if screen is None or role is None or not getattr(screen, "can_delete", False) \
                or not current_operator().may(role):
            abort(404)
        query = select(audit_events).where(audit_events.c.entity_type == table, audit_events.c.action == "delete",
                                           audit_events.c.caused_by.is_(None))
        actor = request.args.get("actor", "").strip()
        if actor:
            query = query.where(audit_events.c.actor == actor)
        for name, compare in (("from", "__ge__"), ("to", "__le__")):
            value = request.args.get(name, "").strip()
            if value:
                query = query.where(getattr(audit_events.c.occurred_at, compare)(_day(value, name == "to")))
        before = request.args.get("before", type=int)
        if before:
            query = query.where(audit_events.c.id < before)
        rows = [dict(r) for r in self.db.session.execute(
            query.order_by(audit_events.c.id.desc()).limit(PAGE_SIZE + 1)).mappings()]
        done = reverted_by(self.db.session.connection(), [r["id"] for r in rows])
        older = rows[PAGE_SIZE - 1]["id"] if len(rows) > PAGE_SIZE else None
        return self.render("backoffice/audit/recently_deleted.html", table=table, events=rows[:PAGE_SIZE],
                           restored=done, actor=actor, start=request.args.get("from", ""),
                           end=request.args.get("to", ""), older=older)


def _day(text: str, end: bool) -> dt.datetime:
    try:
        day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        abort(400, description=f"'{text}' must be a date like 2026-01-31 (UTC)")
    return day + dt.timedelta(days=1) - dt.timedelta(microseconds=1) if end else day
