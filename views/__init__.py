"""Flask-Admin views: the generated screens and the console's own pages."""
from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_sqlalchemy import SQLAlchemy

from audit_hooks import audit_action
from backoffice.access import current_operator
from backoffice.declarations import Declarations
from backoffice.queues import queue_specs
from backoffice.settings import Settings
from models.reflection import Reflection

from . import catalog_health
from . import checks as _checks  # noqa: F401  (registers the [views.*] checks)
from . import ux
from .audit import AuditView
from .base import ReflectedModelView
from .custom import discover
from .dashboard import DashboardView
from .review_queue import ReviewQueueView
from .tuning import build_screens
from .report import SchemaReportView

__all__ = ["init_app", "ReflectedModelView"]


def init_app(app: Flask, db: SQLAlchemy, reflection: Reflection, settings: Settings) -> Admin:
    """Build this app's Admin (never module level) with a screen per reflected relation,
    tuned by the declarative file's ``[views.*]`` entries (hidden ones left out)."""
    admin = Admin(
        app,
        name="Backoffice",
        theme=Bootstrap4Theme(swatch="default", base_template="backoffice/master.html", fluid=True),
        index_view=DashboardView(reflection),
    )
    declarations = app.extensions.get("backoffice.declarations") or Declarations()
    for view in build_screens(reflection, declarations, db, discover()):
        admin.add_view(view)
    for queue in queue_specs(declarations, reflection):
        admin.add_view(ReviewQueueView(queue, db, reflection, audit_action))
    admin.add_view(AuditView(db, reflection))
    admin.add_view(SchemaReportView(reflection))
    ux.init_app(app, admin)
    app.extensions["backoffice.admin"] = admin
    catalog_health.init_app(app, admin, db, reflection, settings)
    app.extensions.setdefault("backoffice.banners", [])

    @app.context_processor
    def _backoffice_context():
        return {
            "backoffice_operator": current_operator,
            "backoffice_banners": lambda: [b for make in app.extensions["backoffice.banners"] if (b := make())],
        }

    return admin
