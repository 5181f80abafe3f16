"""The sign-in events tab of the audit history: /admin/audit/sign-ins/ (filters, CSV export).

Rows come from ``backoffice_security_events`` (written by ``backoffice/auth/signins.py``):
first sign-ins per operator and address, and failures and lockouts counted per address
and window. Read-only; the export is itself audited like every other export.
"""
from __future__ import annotations

import datetime as dt

from flask import flash, request
from flask_admin import BaseView, expose
from sqlalchemy import Select, or_, select

from models.own import security_events

from views.access import RoleGuardMixin
from views.audit import day_argument
from views.cells import csv_text
from views.export import ExportEvent, stream_csv
from views.names import AUDIT_VIEW_ROLE

__all__ = ["SignInEventsView", "KIND_LABELS"]
PAGE_SIZE = 100
KIND_LABELS = {"sign_in": "first sign-in from this address", "sign_in_failed": "failed sign-ins",
               "lockout": "locked out"}
_EXPORTED = ("id", "kind", "client_addr", "username", "tried", "window_start", "first_at", "last_at", "count")


class SignInEventsView(RoleGuardMixin, BaseView):
    """Sign-in events, latest first; filtered by kind, address, username and dates."""

    view_role: str | None = AUDIT_VIEW_ROLE

    def __init__(self, db, **kwargs):
        self.db = db
        kwargs.setdefault("name", "Sign-in events")
        kwargs.setdefault("category", "Audit")
        kwargs.setdefault("endpoint", "signins")
        kwargs.setdefault("url", "/admin/audit/sign-ins")
        super().__init__(**kwargs)

    def _filtered(self) -> tuple[Select, dict]:
        t = security_events
        query, active = select(t), {}
        kind = request.args.get("kind", "").strip()
        if kind:
            if kind in KIND_LABELS:
                active["kind"] = kind
                query = query.where(t.c.kind == kind)
            else:
                flash(f"'kind' must be one of {', '.join(KIND_LABELS)}; the filter was ignored.", "error")
        address = request.args.get("address", "").strip()
        if address:
            active["address"] = address
            query = query.where(t.c.client_addr == address)
        user = request.args.get("user", "").strip()
        if user:
            active["user"] = user
            query = query.where(or_(t.c.username == user, t.c.tried == user))
        start, end = day_argument("from"), day_argument("to")
        if start:
            active["from"] = request.args["from"].strip()
            query = query.where(t.c.last_at >= start)
        if end:
            active["to"] = request.args["to"].strip()
            query = query.where(t.c.first_at < end + dt.timedelta(days=1))
        return query.order_by(t.c.last_at.desc(), t.c.id.desc()), active

    @expose("/")
    def index_view(self):
        query, active = self._filtered()
        rows = self.db.session.execute(query.limit(PAGE_SIZE)).mappings().all()
        return self.render("backoffice/audit/signins.html", events=rows, active=active, kinds=KIND_LABELS,
                           page_size=PAGE_SIZE, export_url=self.get_url(".export_view", **active))

    @expose("/export.csv")
    def export_view(self):
        query, active = self._filtered()
        engine = self.db.engine

        def rows():
            with engine.connect() as connection:
                for row in connection.execution_options(yield_per=500).execute(query).mappings():
                    yield [csv_text(row[name]) for name in _EXPORTED]

        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        event = ExportEvent(table=security_events.name, screen="sign-in events",
                            narrowing={"filters": active, "url": request.full_path[:500]})
        return stream_csv(_EXPORTED, rows(), filename=f"sign-in-events-{stamp}.csv", event=event)
