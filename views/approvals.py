"""The "Approvals" page (/admin/approvals/): changes held for a second operator, and their decision.

An operator sees the requests whose approving role they hold (anything else, and the whole page
when they hold no approving role of the console, is a missing page: 404). Approve and reject are
POSTs with CSRF; the server refuses the requester, expired, tampered and already decided requests
and shows a conflict view (old at request / now / requested new) when rows changed in between.
A banner counts the pending requests an operator may decide.
"""
from __future__ import annotations

from types import SimpleNamespace

from flask import abort, current_app, flash, g, has_request_context, redirect, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import select

from backoffice.core.access import ROLES, current_operator
from backoffice.core.internals import BeforeViewHook
from models.own import approval_requests

from audit_hooks.revert import RevertRefused, execute_revert
from views.approval_capture import approval_role
from views.approval_store import (KINDS, ApprovalRefused, ConflictRefused, decide, is_expired, load, pending_count,
                                  verify)
from views.names import views_of
from views.revert import decisions, may_revert

__all__ = ["ApprovalsView", "init_app", "approving_roles"]

PAGE_SIZE = 100


def approving_roles(app) -> set[str]:
    """Every role some screen of ``app`` names in its ``approval`` (asked once per request:
    the banner and the sidebar both ask)."""
    if has_request_context():
        known = g.get("_backoffice_approving_roles")
        if known is None or known[0] is not app:
            known = g._backoffice_approving_roles = (app, _approving_roles(app))
        return known[1]
    return _approving_roles(app)


def _approving_roles(app) -> set[str]:
    roles = {role for view in views_of(app) for kind in KINDS if (role := approval_role(view, kind))}
    queues = [getattr(view, "queue", None) for view in views_of(app)]
    roles |= {a.approval for view in views_of(app) for a in (getattr(view, "declared_actions", None) or {}).values()
              if a.approval}
    return roles | {a.approval for q in queues if q is not None for a in q.actions.values() if a.approval}


def _mine(operator) -> list[str]:
    return [role for role in approving_roles(current_app) if operator.may(role)]


class ApprovalsView(BeforeViewHook, BaseView):
    """Pending and decided approval requests; approve or reject one (see the module docstring)."""

    def __init__(self, db, reflection, **kwargs):
        self.db = db
        self.reflection = reflection
        kwargs.setdefault("name", "Approvals")
        kwargs.setdefault("endpoint", "approvals")
        kwargs.setdefault("url", "/admin/approvals")
        super().__init__(**kwargs)

    def is_accessible(self) -> bool:
        return bool(_mine(current_operator()))

    def inaccessible_callback(self, name, **kwargs):
        abort(404)

    def refuses_request(self, method_name: str) -> bool:
        """Called by the auth guard before CSRF: no approving role, or not this request's role,
        is a missing page (a forged POST included)."""
        if not self.is_accessible():
            return True
        request_id = (request.view_args or {}).get("request_id")
        if request_id is None:
            return False
        row = load(self.db.session, request_id)
        self.db.session.rollback()
        return row is None or not current_operator().may(row["role"])

    def before_view(self, name):
        if self.refuses_request(name):
            abort(404)
        return None

    def _request(self, request_id: int) -> dict:
        row = load(self.db.session, request_id)
        self.db.session.rollback()
        if row is None or not current_operator().may(row["role"]):
            abort(404)
        return row

    @expose("/")
    def index_view(self):
        roles = _mine(current_operator())
        status = request.args.get("status", "pending")
        query = select(approval_requests).where(approval_requests.c.role.in_(roles))
        if status in ("pending", "approved", "rejected"):
            query = query.where(approval_requests.c.status == status)
        rows = [dict(r) for r in self.db.session.execute(
            query.order_by(approval_requests.c.id.desc()).limit(PAGE_SIZE)).mappings()]
        self.db.session.rollback()
        return self.render("backoffice/approvals/list.html", rows=rows, status=status, expired=is_expired,
                           me=current_operator().username)

    @expose("/<int:request_id>", methods=("GET",))
    def details_view(self, request_id: int, conflicts=None, status: int = 200):
        row = self._request(request_id)
        return self.render("backoffice/approvals/details.html", row=row, expired=is_expired(row),
                           intact=verify(row), me=current_operator().username, conflicts=conflicts,
                           record_url=self._record_url(row)), status

    @expose("/<int:request_id>", methods=("POST",))
    def decide_view(self, request_id: int):
        self._request(request_id)  # 404 before anything for an operator without the role
        approve = request.form.get("decision") == "approve"
        if request.form.get("decision") not in ("approve", "reject"):
            abort(400, description="decision must be approve or reject; nothing was changed.")
        try:
            decide(self.db.session, self.reflection, request_id, approve=approve, reason=request.form.get("reason"),
                   run_queue=self._run_queue, run_revert=self._run_revert, may_apply=self._may_apply)
        except ConflictRefused as exc:
            flash(f"Not approved: {exc}.", "error")
            return self.details_view(request_id, conflicts=exc.conflicts, status=409)
        except ApprovalRefused as exc:
            flash(f"Nothing was changed: {exc}.", "error")
            return self.details_view(request_id, status=409)
        flash(f"Request #{request_id} was {'approved and applied' if approve else 'rejected'}.", "success")
        return redirect(url_for(".index_view"))

    def _may_apply(self, held: dict) -> str | None:
        """Why the current operator may not make the held change themself (the screen's own
        role for it: an approver must be allowed to do the change), or None."""
        operator = current_operator()
        view = next((v for v in views_of(current_app) if v.endpoint == held["screen"]), None)
        if held["kind"] == "revert":
            allowed = may_revert(self.db, self.reflection, int(held["action"].split(":")[0]))
            return None if allowed else "reverting this change needs a role you do not hold"
        if view is None:
            return "the screen of this request no longer exists"
        if held["kind"] == "queue":
            action = view.queue.actions.get(held["action"] or "") if hasattr(view, "queue") else None
            role = None if action is None else action.role
        elif held["kind"] == "action":
            action = (getattr(view, "declared_actions", None) or {}).get(held["action"] or "")
            role = None if action is None else action.role
        else:
            role = getattr(view, f"{held['kind']}_role", None)
        if role is None or not operator.may(role):
            return (f"the change itself ({held['kind']} on {held['screen']}) needs the role {role or 'nobody'}, "
                    "which you do not hold")
        return None

    def _run_revert(self, held: dict, note: str) -> str | None:
        """Apply a held revert through the revert's own execution (plan, conflicts, audit), which
        commits it with the approval's claim or rolls everything back; why not, or None."""
        event_id, _, mode = held["action"].partition(":")
        try:
            execute_revert(self.db.session, self.reflection, int(event_id), note, mode or "clean", decisions)
        except RevertRefused as exc:
            return str(exc)
        return None

    def _run_queue(self, held: dict, note: str) -> str | None:
        """Run a held queue decision through its queue's runner (effect, sibling closing, audit),
        which commits it with the approval's claim or rolls everything back; why not, or None."""
        view = next((v for v in views_of(current_app) if v.endpoint == held["screen"] and hasattr(v, "runner")), None)
        action = None if view is None else view.queue.actions.get(held["action"] or "")
        why = "the queue or its action no longer exists" if action is None else \
            None if current_operator().may(action.role) else f"{held['action']} needs the role {action.role}"
        if why:
            self.db.session.rollback()
            return why
        outcome = view.runner.perform(action, [r["entity_id"] for r in held["rows"]], current_operator(), note)
        return outcome.skipped[0].message if outcome.skipped else None

    def _record_url(self, row: dict) -> str | None:
        if row["kind"] == "delete" or len(row["rows"]) != 1:
            return None
        try:
            return url_for(f"{row['screen']}.details_view", id=row["rows"][0]["entity_id"])
        except Exception:  # the screen is gone or renamed since the request
            return None


def init_app(app, admin, db) -> None:
    """The banner counting the pending requests the operator may decide."""
    def banner():
        if not approving_roles(app):
            return None
        roles = _mine(current_operator())
        if not roles:
            return None
        with db.engine.connect() as connection:  # not the request's session: rendering must not end its work
            count = pending_count(connection, roles)
        if not count:
            return None
        return SimpleNamespace(level="info", text=f"{count} change(s) wait for your approval: see Approvals.")

    app.extensions.setdefault("backoffice.banners", []).append(banner)
