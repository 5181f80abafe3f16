"""Flask-Admin views: the generated screens and the console's own pages."""
from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_sqlalchemy import SQLAlchemy

from backoffice.core.access import current_operator
from backoffice.core.declarations import Declarations
from queues.spec import queue_specs
from backoffice.core.settings import Settings
from models.reflection import Reflection

from views import catalog_health, ux
from views import checks, pages
from views.audit import AuditView
from views.base import ReflectedModelView
from views.custom import discover
from views.dashboard import DashboardView
from views.review_queue import ReviewQueueView
from views.tuning import build_screens
from views.report import SchemaReportView

__all__ = ["init_app", "register_rules", "ReflectedModelView"]


def register_rules(rules) -> None:
    """The sections the screens read: ``[views.*]`` and ``[pages.*]``."""
    checks.register_rules(rules)
    pages.register_rules(rules)


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
    owned = app.extensions.get("backoffice.queues.owned")  # queues/ownership.py
    for view in build_screens(reflection, declarations, db, discover(), owned):
        admin.add_view(view)
    for queue in queue_specs(declarations, reflection):
        admin.add_view(ReviewQueueView(queue, db, reflection))
    with app.app_context():
        engine = db.engine
    for page in pages.page_views(declarations, engine, settings.statement_timeout_ms):
        admin.add_view(page)
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
