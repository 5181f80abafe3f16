"""Declared row actions: ``[views.<table>.actions.<name>]`` sets columns to given values.

A maintainer declares, without Python, an action that sets columns of the selected rows to
literals, ``"now()"``, ``"null()"`` or a value the operator types (``{ ask = "prompt" }``),
typed by the column and validated. It goes through the review queue's flow: Flask-Admin's
"With selected" menu leads to a confirmation page (the rows, old -> new, reason, typed count
above ``confirm_over`` rows, optional typed word) that carries a token signed over the exact
action and ids; the execute POST checks token, role, reason and count, then changes each row
in its own transaction inside ``audit_action("action.<name>")`` and reports per row
(:class:`queues.runner.RowOutcome`). A role below the action's gets 404, like a missing page.

:class:`DeclaredActions` is a base of :class:`~views.writes.WritesPart` (the part that owns
the screen's actions); it overrides no Flask-Admin hook and adds one endpoint
(``declared_action_execute``); ``ReflectedModelView.init_actions`` lists the declared actions
beside the ``@action`` methods (so ``is_action_allowed`` sees their role). Each action is also a
button on every row of the list (``get_list_row_actions``, for the operator's role only): a link
to ``declared_action_row``, which shows the same signed confirmation for that one row (a GET
changes nothing; the confirmation's POST does).
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, redirect, request
from flask_admin import expose
from flask_admin.model.template import EndpointLinkRowAction
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from audit_hooks import AuditError, audit_action
from backoffice.core.access import current_operator
from queues.runner import ActionRefused, Outcome, RowOutcome, refused_row

from views.access import require_role
from views.approval_capture import hold_declared_action
from views.names import db_session

__all__ = ["DeclaredAction", "DeclaredActions", "parse_actions", "convert", "NOW", "NULL", "accepts_now",
           "ACTION_PREFIX", "MAX_ROWS", "TOKEN_MAX_AGE"]

NOW, NULL = "now()", "null()"
#: Flask-Admin action names of declared actions start with this (never clash with ``delete``).
ACTION_PREFIX = "declared:"
MAX_ROWS = 1000
TOKEN_MAX_AGE = 3600
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DeclaredAction:
    """One checked ``[views.<table>.actions.<name>]`` entry."""

    name: str
    label: str
    set: dict[str, Any]  # column -> literal | NOW | NULL | {"ask": prompt}
    role: str = "operator"
    reason: str = "optional"  # required | optional | none
    confirm_over: int = 10
    confirm_text: str | None = None
    approval: str | None = None  # two-person approval: the role that must approve (views/approval_store.py)

    @property
    def asked(self) -> list[tuple[str, str]]:
        return [(c, v["ask"]) for c, v in self.set.items() if isinstance(v, dict)]


def parse_actions(spec: dict[str, Any]) -> dict[str, DeclaredAction]:
    """The actions of a *checked* ``[views.<table>]`` entry (defaults filled in; an action
    without its own ``reason`` takes the screen's ``reason.bulk``, else "optional")."""
    reasons = spec.get("reason")
    bulk_reason = reasons.get("bulk", "optional") if isinstance(reasons, dict) else "optional"
    found = {}
    for name, entry in (spec.get("actions") or {}).items():
        found[name] = DeclaredAction(
            name=name, label=entry.get("label") or name.replace("_", " ").capitalize(), set=dict(entry["set"]),
            role=entry.get("role", "operator"), reason=entry.get("reason", bulk_reason),
            confirm_over=entry.get("confirm_over", 10), confirm_text=entry.get("confirm_text"),
            approval=entry.get("approval"))
    return found


def _python_type(column) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def convert(column, raw: Any, *, typed: bool) -> Any:
    """``raw`` as a value of ``column``'s type, or :class:`ValueError` saying why not.
    ``typed``: ``raw`` is text the operator typed (else a TOML literal of the file)."""
    kind = _python_type(column)
    name = column.name
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if typed and str(raw).strip().lower() in ("true", "false"):
            return str(raw).strip().lower() == "true"
        raise ValueError(f"{name} takes true or false, not {raw!r}")
    if kind is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if typed and re.fullmatch(r"-?\d{1,18}", str(raw).strip()):
            return int(str(raw).strip())
        raise ValueError(f"{name} takes a whole number, not {raw!r}")
    if kind in (float, decimal.Decimal):
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return kind(raw) if kind is float else decimal.Decimal(str(raw))
        try:
            value = decimal.Decimal(str(raw).strip()) if typed else None
        except decimal.InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            raise ValueError(f"{name} takes a number, not {raw!r}")
        return float(value) if kind is float else value
    if kind in (dt.datetime, dt.date):
        if isinstance(raw, kind) and (kind is dt.datetime or not isinstance(raw, dt.datetime)):
            return raw
        try:
            if typed:
                return kind.fromisoformat(str(raw).strip())
        except ValueError:
            pass
        raise ValueError(f"{name} takes a {'date and time' if kind is dt.datetime else 'date'} "
                         f"(YYYY-MM-DD{' HH:MM' if kind is dt.datetime else ''}), not {raw!r}")
    if kind is str:
        if not isinstance(raw, str):
            raise ValueError(f"{name} takes text, not {raw!r}")
        length = getattr(column.type, "length", None)
        if length and len(raw) > length:
            raise ValueError(f"{name} takes at most {length} characters, {len(raw)} given")
        return raw
    raise ValueError(f"{name} has a type ({column.type}) a declared action cannot set")


def accepts_now(column) -> bool:
    """Whether ``"now()"`` may be set into ``column`` (a date or a date-and-time)."""
    return _python_type(column) in (dt.datetime, dt.date)


class DeclaredActions:
    """The file's row actions on a generated screen (see the module docstring); a base of
    :class:`~views.writes.WritesPart`. Adds ``declared_action_execute``, overrides nothing."""

    #: name -> :class:`DeclaredAction`; set per screen by ``views/tuning.py``.
    declared_actions: dict[str, DeclaredAction] = {}

    def declared_action_handlers(self) -> list[tuple[str, str, Any]]:
        """(Flask-Admin action name, label, handler) for ``init_actions``; each handler carries
        its role (:func:`~views.access.require_role`) so ``is_action_allowed`` answers for it."""
        handlers = []
        if getattr(self.entry, "read_only", False):
            return handlers
        for action in self.declared_actions.values():
            def confirm(ids, _action=action):
                return self._declared_confirm(_action, list(ids))
            handlers.append((ACTION_PREFIX + action.name, action.label, require_role(action.role)(confirm)))
        return handlers

    def get_list_row_actions(self):
        """Flask-Admin's row buttons, then one per declared action the operator may run."""
        actions = super().get_list_row_actions()  # type: ignore[misc]
        if getattr(self.entry, "read_only", False):
            return actions
        operator = current_operator()
        return actions + [EndpointLinkRowAction("fa fa-bolt", ".declared_action_row", title=action.label,
                                                url_args={"action": action.name})
                          for action in self.declared_actions.values() if operator.may(action.role)]

    @expose("/declared-action/row/", methods=("GET",))
    def declared_action_row(self):
        """The confirmation of one declared action for one row (the row's button)."""
        action, row_id = self._declared(request.args.get("action")), (request.args.get("id") or "").strip()
        if not row_id or len(row_id) > 2000:
            abort(404)
        return self._declared_confirm(action, [row_id])

    def _declared(self, name: str | None) -> DeclaredAction:
        action = self.declared_actions.get(name or "")
        if action is None or getattr(self.entry, "read_only", False) or not current_operator().may(action.role):
            abort(404)  # a forbidden action looks exactly like a missing one
        return action

    def _declared_serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"declared-action:{self.endpoint}")

    def _declared_confirm(self, action: DeclaredAction, ids: list[str], token: str | None = None,
                          values: dict[str, str] | None = None, status: int = 200):
        ids = sorted({str(i).strip() for i in ids if str(i).strip()}, key=lambda v: (len(v), v))[:MAX_ROWS + 1]
        if len(ids) > MAX_ROWS:
            flash(f"At most {MAX_ROWS} rows per action; more were selected.", "error")
            return redirect(self.get_url(".index_view"))
        token = token or self._declared_serializer().dumps({"action": action.name, "ids": ids})
        rows = self._declared_rows(ids)
        columns = self.entry.table.columns
        previews = [{"id": self.get_pk_value(row),
                     "changes": [(c, getattr(row, self._attr(c)), "(typed below)" if isinstance(v, dict) else
                                  "now" if v == NOW else None if v == NULL else v) for c, v in action.set.items()]}
                    for row in rows]
        return self.render("backoffice/declared_action/confirm.html", action=action, previews=previews,
                           token=token, count=len(ids), missing=len(ids) - len(rows), values=values or {},
                           require_count=len(ids) > action.confirm_over, reason=request.form.get("reason", ""),
                           types={c: str(columns[c].type) for c in action.set}), status

    def _attr(self, column: str) -> str:
        return self.entry.model.__mapper__.get_property_by_column(self.entry.table.columns[column]).key

    def _declared_rows(self, ids: list[str], lock: bool = False) -> list[Any]:
        rows = []
        for raw in ids:
            row = self.get_one(raw) if not lock else self._locked(raw)
            if row is not None:
                rows.append(row)
        return rows

    def _locked(self, raw: str):
        model, keys = self.entry.model, self.entry.primary_key
        parts = raw.split(",") if len(keys) > 1 else [raw]
        if len(parts) != len(keys):
            return None
        try:
            values = [convert(self.entry.table.columns[k], p, typed=True) for k, p in zip(keys, parts)]
        except ValueError:
            return None
        statement = select(model).where(*[getattr(model, self._attr(k)) == v for k, v in zip(keys, values)])
        return db_session(self).execute(statement.with_for_update().execution_options(populate_existing=True)) \
            .scalars().first()

    @expose("/declared-action/", methods=("POST",))
    def declared_action_execute(self):
        try:
            bound = self._declared_serializer().loads(request.form.get("token", ""), max_age=TOKEN_MAX_AGE)
        except SignatureExpired:
            flash("The confirmation expired; nothing was changed. Select the rows again.", "error")
            return redirect(self.get_url(".index_view"))
        except BadSignature:
            abort(400, description="The confirmation token is invalid; nothing was changed.")
        action, ids = self._declared(bound.get("action")), [str(i) for i in bound.get("ids") or []]
        typed = {c: request.form.get(f"value_{c}", "") for c, _prompt in action.asked}

        def refuse(message: str):
            flash(message, "error")
            return self._declared_confirm(action, ids, request.form.get("token"), typed, 422)

        reason = (request.form.get("reason") or "").strip() or None
        if reason and len(reason) > 2000:
            return refuse("The reason is too long (at most 2,000 characters).")
        if action.reason == "required" and not reason:
            return refuse(f"A reason is required to {action.label.lower()}.")
        if len(ids) > action.confirm_over and request.form.get("typed_count", "").strip() != str(len(ids)):
            return refuse(f"Type the number of rows ({len(ids)}) to confirm.")
        if action.confirm_text and request.form.get("typed_text", "").strip() != action.confirm_text:
            return refuse(f"Type {action.confirm_text} to confirm.")
        columns = self.entry.table.columns
        values: dict[str, Any] = {}
        try:
            for column, value in action.set.items():
                if isinstance(value, dict):
                    values[column] = convert(columns[column], typed[column], typed=True)
                elif value not in (NOW, NULL):
                    values[column] = convert(columns[column], value, typed=False)
                else:
                    values[column] = value
        except ValueError as exc:
            return refuse(f"Nothing was changed: {exc}.")
        approver = action.approval or (getattr(self, "approval", None) or {}).get("edit")
        if approver:  # two-person approval: held for another operator, nothing changes now
            hold_declared_action(self, action, approver, self._declared_rows(ids), values,
                                 reason if action.reason != "none" else None)
            return redirect(self.get_url(".index_view"))
        outcome = Outcome(action=action)
        for raw in ids:
            outcome.rows.append(self._declared_one(action, raw, values, reason if action.reason != "none" else None))
        noun = "row" if len(ids) == 1 else "rows"
        flash(f"{action.label}: {outcome.done} of {len(ids)} {noun} changed; {len(outcome.skipped)} skipped.",
              "success" if outcome.done else "warning")
        for skipped in outcome.skipped[:20]:
            flash(f"#{skipped.id} skipped: {skipped.message}", "warning")
        return redirect(self.get_url(".index_view"))

    def _declared_one(self, action: DeclaredAction, raw: str, values: dict[str, Any], reason: str | None):
        """One row in its own transaction, audited as ``action.<name>``."""
        session = db_session(self)
        try:
            with audit_action(action=f"action.{action.name}", reason=reason):
                connection = session.connection()
                if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                row = self._locked(raw)
                if row is None:
                    raise ActionRefused("no such row (deleted meanwhile?)")
                now = dt.datetime.now(dt.timezone.utc)
                for column, value in values.items():
                    if value == NOW:
                        value = now if _python_type(self.entry.table.columns[column]) is dt.datetime else now.date()
                    setattr(row, self._attr(column), None if value == NULL else value)
            session.commit()
            return RowOutcome(raw, True, "changed")
        except (ActionRefused, AuditError, DBAPIError) as exc:
            return refused_row(session, raw, exc)

