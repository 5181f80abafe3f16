"""The dashboard at /admin/: every reflected relation with a cheap row count."""
from __future__ import annotations

from flask import current_app, url_for
from flask_admin import AdminIndexView, expose
from sqlalchemy import func, select, text

from audit_hooks.privileges import powers_warning
from models.reflection import Reflection

from views.names import views_of

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
        for view in views_of(current_app):
            screen = getattr(view, "screen", None)
            if screen and view.is_accessible():
                links[screen] = url_for(f"{view.endpoint}.index_view")
        counts = row_counts(db, self.reflection, only=set(links))
        # Only screens this operator can open: hidden ones (declarative file) and ones
        # their role may not see are absent here as in the menu.
        rows = [
            {"screen": screen, "entry": entry, "count": counts.get(screen, (None, False)), "url": links[screen]}
            for screen, entry in self.reflection.tables.items() if screen in links
        ]
        return self.render("backoffice/dashboard.html", rows=rows,
                           audit_warning=powers_warning(current_app.extensions.get("backoffice.audit.powers") or []))
