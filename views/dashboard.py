"""The dashboard at /admin/: catalog-health cards with their trend, the review queues' sizes,
the newest audit events, the system's status, then every relation with a cheap row count.
Each section is read cheaply (views/dashboard_figures.py) and shown only to a role that may
open the page it summarises."""
from __future__ import annotations

from flask import current_app, url_for
from flask_admin import AdminIndexView, expose
from sqlalchemy import func, select, text

from audit_hooks.privileges import powers_warning
from models.reflection import Reflection

from views.dashboard_figures import health_cards, queue_sizes, recent_events, system_status
from views.names import views_of
from views.sparkline import sparkline

__all__ = ["DashboardView", "row_counts"]

#: Above this many rows (by the planner's statistics) a count is shown as an estimate.
EXACT_COUNT_LIMIT = 100_000


def row_counts(db, reflection: Reflection, only=None) -> dict[str, tuple[int | None, bool]]:
    """Screen name -> (rows, is_estimate). PostgreSQL reads ``pg_class.reltuples`` first
    and counts exactly only below :data:`EXACT_COUNT_LIMIT`."""
    estimates: dict[tuple[str, str], float] = {}
    if reflection.dialect == "postgresql":
        rows = db.session.execute(text(
            "SELECT n.nspname, c.relname, c.reltuples FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'm')"
        )).all()
        estimates = {(schema, name): tuples for schema, name, tuples in rows}
        default_schema = db.session.execute(text("SELECT current_schema()")).scalar()
    counts: dict[str, tuple[int | None, bool]] = {}
    for screen, entry in reflection.tables.items():
        if only is not None and screen not in only:
            continue
        estimate = estimates.get((entry.schema or (default_schema if estimates else ""), entry.name))
        if estimate is not None and estimate >= EXACT_COUNT_LIMIT:
            counts[screen] = (int(estimate), True)
            continue
        try:
            counts[screen] = (db.session.execute(select(func.count()).select_from(entry.table)).scalar(), False)
        except Exception:  # a broken view must not take the dashboard down
            db.session.rollback()
            counts[screen] = (None, False)
    return counts


class DashboardView(AdminIndexView):
    """Home of the console: a table of every relation, its kind and size."""

    def __init__(self, reflection: Reflection):
        super().__init__(name="Dashboard", url="/admin")
        self.reflection = reflection

    @expose("/")
    def index(self):
        db = current_app.extensions["backoffice.db"]
        links = {}
        queues, health_view, audit_view = [], None, None
        for view in views_of(current_app):
            screen = getattr(view, "screen", None)
            if screen and view.is_accessible():
                links[screen] = url_for(f"{view.endpoint}.index_view")
            elif getattr(view, "queue", None) is not None and getattr(view, "runner", None) is not None \
                    and view.is_accessible():
                queues.append(view)
            elif view.endpoint == "catalog_health" and view.is_accessible():
                health_view = view
            elif view.endpoint == "audit" and view.is_accessible():
                audit_view = view
        counts = row_counts(db, self.reflection, only=set(links))
        # Only screens this operator can open: hidden ones (declarative file) and ones
        # their role may not see are absent here as in the menu.
        rows = [
            {"screen": screen, "entry": entry, "count": counts.get(screen, (None, False)), "url": links[screen]}
            for screen, entry in self.reflection.tables.items() if screen in links
        ]
        health = health_cards(getattr(health_view, "service", None)) if health_view is not None else None
        events, events_note = recent_events(db.session) if audit_view is not None else ([], None)
        return self.render("backoffice/dashboard.html", rows=rows, health=health, sparkline=sparkline,
                           health_url=url_for("catalog_health.index") if health_view is not None else None,
                           queues=queue_sizes(db.session, queues), events=events, events_note=events_note,
                           audit_url=url_for("audit.index_view") if audit_view is not None else None,
                           status=system_status(db.session, current_app.extensions.get("backoffice.limiter")),
                           audit_warning=powers_warning(current_app.extensions.get("backoffice.audit.powers") or []))
