"""The audit history: /admin/audit/ (read-only, newest first, filters, diff, CSV export)."""
from __future__ import annotations

import datetime as dt

from flask import current_app, flash, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import Select, select

from models.own import audit_events

from audit_hooks.revert import REVERTIBLE_ACTIONS, reverted_by

from views.access import RoleGuardMixin
from views.cells import csv_text
from views.names import AUDIT_VIEW_ROLE, endpoint_for, views_of
from views.export import ExportEvent, stream_csv

__all__ = ["AuditView", "AUDIT_VIEW_ROLE", "day_argument"]
PAGE_SIZE = 50
_FILTERS = {"actor": audit_events.c.actor, "action": audit_events.c.action,
            "table": audit_events.c.entity_type, "entity": audit_events.c.entity_id}
_EXPORTED = ("id", "occurred_at", "actor", "actor_role", "action", "entity_type", "entity_id", "reason",
             "client_addr", "request_id", "changes", "prev_hash", "row_hash")


def _revertible(event) -> bool:
    """Whether the history offers "Revert..." (the revert page checks the role and conflicts)."""
    # approval.* rows record a step of a held change, not a change: nothing to revert
    return event["caused_by"] is None and (event["action"] in REVERTIBLE_ACTIONS or event["action"].startswith("review."))


def day_argument(name: str) -> dt.datetime | None:
    """The request's ``name`` argument as a UTC day; a bad one is flashed and ignored."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        flash(f"'{name}' must be a date like 2026-01-31 (UTC); the filter was ignored.", "error")
        return None


class AuditView(RoleGuardMixin, BaseView):
    """Every audit event, newest first; filtered by actor, action, table, entity, dates, reason text."""

    view_role: str | None = AUDIT_VIEW_ROLE

    def __init__(self, db, reflection, **kwargs):
        self.db = db
        self.screens = {entry.qualified_name: screen for screen, entry in reflection.tables.items()}
        self._hidden: dict[str, set[str]] | None = None
        kwargs.setdefault("name", "Audit history")
        kwargs.setdefault("category", "Audit")
        kwargs.setdefault("endpoint", "audit")
        kwargs.setdefault("url", "/admin/audit")
        super().__init__(**kwargs)

    def _filtered(self) -> tuple[Select, dict]:
        query = select(audit_events)
        active = {}
        for name, column in _FILTERS.items():
            value = request.args.get(name, "").strip()
            if value:
                active[name] = value
                query = query.where(column == value)
        text = request.args.get("q", "").strip()
        if text:
            active["q"] = text
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(audit_events.c.reason.ilike(pattern, escape="\\"))
        start, end = day_argument("from"), day_argument("to")
        if start:
            active["from"] = request.args["from"].strip()
            query = query.where(audit_events.c.occurred_at >= start)
        if end:
            active["to"] = request.args["to"].strip()
            query = query.where(audit_events.c.occurred_at < end + dt.timedelta(days=1))
        return query, active

    @expose("/")
    def index_view(self):
        query, active = self._filtered()
        before = request.args.get("before", type=int)
        if before:
            query = query.where(audit_events.c.id < before)
        rows = self.db.session.execute(
            query.order_by(audit_events.c.id.desc()).limit(PAGE_SIZE + 1)).mappings().all()
        older = rows[PAGE_SIZE - 1]["id"] if len(rows) > PAGE_SIZE else None
        reverted = reverted_by(self.db.session.connection(), [r["id"] for r in rows[:PAGE_SIZE]])
        return self.render("backoffice/audit/index.html", events=[self._masked(r) for r in rows[:PAGE_SIZE]], active=active, before=before,
                           reverted=reverted, revertible=_revertible,
                           older_url=self.get_url(".index_view", before=older, **active) if older else None,
                           newest_url=self.get_url(".index_view", **active) if before else None,
                           export_url=self.get_url(".export_view", **active), record_url=self.record_url)

    def _hidden_columns(self) -> dict[str, set[str]]:
        """Table -> columns its screen declares ``never_show``: their values are masked
        here too (the audit table keeps them; the history does not show them)."""
        if self._hidden is None:
            hidden: dict[str, set[str]] = {}
            for view in views_of(current_app):
                never, entry = getattr(view, "never_show", None), getattr(view, "entry", None)
                if never and entry is not None:
                    hidden[entry.qualified_name] = {c.name for c in entry.table.columns
                                                    if c.key in never or c.name in never}
            self._hidden = hidden
        return self._hidden

    def _masked(self, row) -> dict:
        event = dict(row)
        hidden = self._hidden_columns().get(event["entity_type"])
        changes = event.get("changes")
        if hidden and isinstance(changes, dict):
            changes = dict(changes)
            for side in ("old", "new"):
                if isinstance(changes.get(side), dict):
                    changes[side] = {k: ("(hidden)" if k in hidden else v) for k, v in changes[side].items()}
            event["changes"] = changes
        return event

    def record_url(self, table: str, entity: str) -> str | None:
        """Link from an event to the record's detail page (when the table has a screen)."""
        screen = self.screens.get(table)
        if screen is None:
            return None
        return url_for(endpoint_for(screen) + ".details_view", id=entity)

    @expose("/export.csv")
    def export_view(self):
        query, active = self._filtered()
        query = query.order_by(audit_events.c.id.desc())
        engine = self.db.engine
        masked = self._masked

        def rows():
            with engine.connect() as connection:  # yield_per: a server-side cursor on PostgreSQL
                result = connection.execution_options(yield_per=500).execute(query)
                for row in result.mappings():
                    event = masked(row)
                    yield [csv_text(event[name]) for name in _EXPORTED]

        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        event = ExportEvent(table=audit_events.name, screen="audit history",
                            narrowing={"filters": active, "url": request.full_path[:500]})
        return stream_csv(_EXPORTED, rows(), filename=f"audit-events-{stamp}.csv", event=event)
