"""The review-queue screen: list, confirm, execute. One view class serves any queue.

Every action is two POSTs with CSRF: *confirm* shows the rows, their current
state and what will change (old -> new) and issues a signed token bound to the
exact action and ids; *execute* checks the token, the role, the reason and, for
large selections, the typed count, then decides row by row.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from backoffice.core.access import ROLES, current_operator
from queues.spec import ActionSpec, QueueSpec
from queues.runner import ActionRefused, QueueRunner

from views.access import RoleGuardMixin
from views.approval_capture import hold_queue_decisions
from views.approval_store import awaiting
from views.names import endpoint_for
from views.review_compare import compare_pairs, score_badge

__all__ = ["ReviewQueueView"]

PAGE_SIZE = 50
TOKEN_MAX_AGE = 3600
MAX_IDS = 1000
SORTS = {"score": "highest score first", "-score": "lowest score first", "age": "oldest first",
         "-age": "newest first"}


class ReviewQueueView(RoleGuardMixin, BaseView):
    """One queue's list of proposals and its actions.

    Everyone who may see the console may see the queue (``view_role`` viewer); the
    confirm and execute POSTs need the least role any action declares (the auth
    gate answers 404 below it, before CSRF), and each action its own role.
    """

    def __init__(self, queue: QueueSpec, db, reflection):
        self.queue = queue
        self.runner = QueueRunner(queue, db, reflection)
        self.db = db
        self.reflection = reflection
        super().__init__(name=queue.label, category="Reviews", endpoint=f"queue_{queue.name}",
                         url=f"/admin/{queue.url}")

    # -- access ------------------------------------------------------------------------
    def required_role(self, method_name: str) -> str | None:
        if method_name in ("confirm", "execute"):
            roles = [a.role for a in self.queue.actions.values() if a.role in ROLES]
            return min(roles, key=ROLES.index) if roles else None
        return super().required_role(method_name)

    def _allowed_actions(self) -> list[ActionSpec]:
        operator = current_operator()
        return [a for a in self.queue.actions.values() if operator.may(a.role)]

    def _action(self, name: str | None) -> ActionSpec:
        action = self.queue.actions.get(name or "")
        if action is None or not current_operator().may(action.role):
            abort(404)  # a forbidden action looks exactly like a missing one
        return action

    # -- list --------------------------------------------------------------------------
    def _filters(self) -> dict:
        args = request.args
        state = args.get("state", self.queue.default_state)
        if state != "all" and state not in self.queue.all_states():
            state = self.queue.default_state
        sort = args.get("sort", "score" if self.queue.score else "age")
        return {"state": state, "sort": sort if sort in SORTS else "age",
                "min_score": _number(args.get("min_score")), "max_score": _number(args.get("max_score")),
                "min_age": _number(args.get("min_age")), "max_age": _number(args.get("max_age")),
                "page": max(0, int(_number(args.get("page")) or 0))}

    def _query(self, filters: dict):
        queue, model = self.queue, self.runner.model
        statement = select(model)
        if filters["state"] != "all":
            statement = statement.where(getattr(model, queue.status) == filters["state"])
        if queue.score:
            score = getattr(model, queue.score)
            if filters["min_score"] is not None:
                statement = statement.where(score >= filters["min_score"])
            if filters["max_score"] is not None:
                statement = statement.where(score <= filters["max_score"])
        if queue.created_at:
            created = getattr(model, queue.created_at)
            now = dt.datetime.now(dt.timezone.utc)
            if filters["min_age"] is not None:
                statement = statement.where(created <= now - dt.timedelta(days=filters["min_age"]))
            if filters["max_age"] is not None:
                statement = statement.where(created >= now - dt.timedelta(days=filters["max_age"]))
        return statement

    def _ordered(self, statement, sort: str):
        queue, model = self.queue, self.runner.model
        column = getattr(model, queue.score) if sort.endswith("score") and queue.score else \
            getattr(model, queue.created_at) if queue.created_at else self.runner.pk
        descending = sort in ("score", "-age")
        return statement.order_by(column.desc() if descending else column.asc(), self.runner.pk.asc())

    @expose("/")
    def index(self):
        filters = self._filters()
        base = self._query(filters)
        total = self.db.session.execute(select(func.count()).select_from(base.subquery())).scalar()
        rows = self.db.session.execute(
            self._ordered(base, filters["sort"]).limit(PAGE_SIZE).offset(filters["page"] * PAGE_SIZE)
        ).scalars().all()
        items = []
        for row in rows:
            subject = self.runner.subject_of(row)
            items.append({"row": row, "id": getattr(row, self.runner.pk.key), "subject": subject,
                          "state": self.runner.state(row), "compared": compare_pairs(self.queue.compare, subject, row),
                          "score": score_badge(getattr(row, self.queue.score)) if self.queue.score else None})
        compared_columns = {pair[1] for pair in self.queue.compare.values()} | {self.queue.score}
        return self.render(
            "backoffice/review_queue/list.html", queue=self.queue, items=items, filters=filters, total=total,
            pages=max(1, -(-total // PAGE_SIZE)), sorts=SORTS, actions=self._allowed_actions(),
            subject_url=self._subject_url, link_for=self._link_for, states=self.queue.all_states(),
            other_columns=[c for c in self.queue.show if c not in compared_columns],
            awaiting=awaiting(self.db.session, self.endpoint) if self._any_approval() else {},
        )

    def _any_approval(self) -> bool:
        return any(a.approval for a in self.queue.actions.values())

    def _subject_url(self, row) -> str | None:
        if not self.queue.subject_table or not self.queue.subject_column:
            return None
        key = getattr(row, self.queue.subject_column)
        try:
            return url_for(f"{endpoint_for(self.queue.subject_table)}.details_view", id=key)
        except Exception:  # the subject table has no screen (hidden)
            return None

    def _link_for(self, row, column: str) -> str | None:
        template = self.queue.links.get(column)
        if not template:
            return None
        values = {c.key: quote(str(getattr(row, c.key, "") or ""), safe="") for c in self.runner.model.__table__.c}
        try:
            url = template.format(**values)
        except (KeyError, IndexError, ValueError):
            return None
        return url if url.startswith(("https://", "http://")) else None

    # -- confirm and execute -----------------------------------------------------------
    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"queue-action:{self.queue.name}")

    @expose("/confirm/", methods=("POST",))
    def confirm(self):
        single, threshold = request.form.get("row_action", ""), request.form.get("threshold_action", "")
        typed = False
        if single:
            name, _, raw_id = single.partition(":")
            action, ids = self._action(name), [raw_id]
        elif threshold and self.queue.score:
            # "every proposal on this page scoring at least X": the page's ids, kept by
            # score here, always confirmed with the typed count.
            action, least = self._action(threshold), _number(request.form.get("at_least"))
            if least is None:
                flash("Type the least score as a number (for example 0.95); nothing was selected.", "error")
                return redirect(url_for(".index"))
            try:
                rows = self.runner.load(sorted(set(request.form.getlist("page_ids")))[:PAGE_SIZE])
            except ActionRefused as exc:
                flash(str(exc), "error")
                return redirect(url_for(".index"))
            ids = [str(getattr(r, self.runner.pk.key)) for r in rows
                   if (score := getattr(r, self.queue.score)) is not None and score >= least]
            typed = True
            if not ids:
                flash(f"No proposal on this page scores at least {least:g}; nothing was selected.", "warning")
                return redirect(url_for(".index"))
        else:
            action, ids = self._action(request.form.get("action")), request.form.getlist("ids")
        ids = sorted({i.strip() for i in ids if i.strip()}, key=lambda v: (len(v), v))
        if not ids:
            flash("Select at least one row first.", "warning")
            return redirect(url_for(".index"))
        if len(ids) > MAX_IDS:
            flash(f"At most {MAX_IDS} rows per action; {len(ids)} were selected.", "error")
            return redirect(url_for(".index"))
        try:
            return self._render_confirm(action, ids, self._serializer().dumps(
                {"action": action.name, "ids": ids, "typed": typed}), typed=typed)
        except ActionRefused as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"))

    def _render_confirm(self, action: ActionSpec, ids: list[str], token: str, reason: str = "", typed: bool = False):
        rows = self.runner.load(ids)
        operator = current_operator()
        previews = []
        for row in rows:
            changes, blocked = self.runner.preview(row, action, operator)
            previews.append({"row": row, "id": getattr(row, self.runner.pk.key),
                             "subject": self.runner.subject_of(row), "changes": changes, "blocked": blocked})
        return self.render(
            "backoffice/review_queue/confirm.html", queue=self.queue, action=action, previews=previews,
            token=token, count=len(ids), missing=len(ids) - len(rows), reason=reason,
            require_count=typed or len(ids) > self.queue.bulk_confirm_over,
            runnable=sum(1 for p in previews if not p["blocked"]), subject_url=self._subject_url,
        )

    @expose("/execute/", methods=("POST",))
    def execute(self):
        try:
            bound = self._serializer().loads(request.form.get("token", ""), max_age=TOKEN_MAX_AGE)
        except SignatureExpired:
            flash("The confirmation expired; nothing was changed. Select the rows again.", "error")
            return redirect(url_for(".index"))
        except BadSignature:
            abort(400, description="The confirmation token is invalid; nothing was changed.")
        action, ids = self._action(bound.get("action")), list(bound.get("ids") or [])
        typed = bound.get("typed") is True
        reason = (request.form.get("reason") or "").strip() or None
        if reason and len(reason) > 2000:
            return self._refuse_confirm(action, ids, "The reason is too long (at most 2,000 characters).", typed)
        if action.reason == "required" and not reason:
            return self._refuse_confirm(action, ids, f"A reason is required to {action.title.lower()}.", typed)
        count_needed = typed or len(ids) > self.queue.bulk_confirm_over
        if count_needed and request.form.get("typed_count", "").strip() != str(len(ids)):
            return self._refuse_confirm(action, ids, f"Type the number of rows ({len(ids)}) to confirm.", typed)
        if action.approval:  # two-person approval: each decision waits for another operator
            return self._hold(action, ids, reason if action.reason != "none" else None)
        outcome = self.runner.perform(action, ids, current_operator(), reason if action.reason != "none" else None)
        noun = "row" if len(ids) == 1 else "rows"
        flash(f"{action.title}: {outcome.done} of {len(ids)} {noun} {action.to}; {len(outcome.skipped)} skipped.",
              "success" if outcome.done else "warning")
        for skipped in outcome.skipped[:20]:
            flash(f"#{skipped.id} skipped: {skipped.message}", "warning")
        if len(outcome.skipped) > 20:
            flash(f"... and {len(outcome.skipped) - 20} more skipped.", "warning")
        return redirect(url_for(".index"))

    def _hold(self, action: ActionSpec, ids: list[str], reason: str | None):
        rows = [r for r in self.runner.load(ids) if self.runner.blocked_reason(r, action) is None]
        requests, skipped = hold_queue_decisions(self, action, rows, reason)
        flash(f"{action.title}: {len(requests)} of {len(ids)} decision(s) wait for approval by another "
              f"{action.approval}" + (f" (request #{', #'.join(map(str, requests))})" if requests else "")
              + "; nothing has changed yet." + (f" Already waiting: #{', #'.join(skipped)}." if skipped else ""),
              "success" if requests else "warning")
        return redirect(url_for(".index"))

    def _refuse_confirm(self, action: ActionSpec, ids: list[str], message: str, typed: bool = False):
        """Show the confirmation again with the error; the signed selection is kept."""
        flash(message, "error")
        return self._render_confirm(action, ids, request.form.get("token", ""), request.form.get("reason", ""),
                                    typed=typed), 422


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is not None and abs(number) < 1e9 else None
