"""Flask-Admin views: the generated screens and the console's own pages.

The generated table screen is :class:`views.base.ReflectedModelView`, built from five
parts (``docs/architecture.md`` says which file decides what).
"""
from __future__ import annotations

from flask import Flask, get_flashed_messages
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_sqlalchemy import SQLAlchemy

from backoffice.core.access import current_operator
from backoffice.core.declarations import Declarations
from queues.spec import queue_specs
from backoffice.core.settings import Settings
from models.reflection import Reflection

from views import catalog_health, fragments, lazy, list_parts, pagers, ux
from views import approval_capture, approvals, checks, page_spec, pages, revert
from views.audit import AuditView
from views.signins import SignInEventsView
from views.base import ReflectedModelView
from views.custom import discover
from views.dashboard import DashboardView
from views.jump import JumpView
from views.names import add_view
from views.review_queue import ReviewQueueView
from views.revert import RevertView
from views.report import SchemaReportView

__all__ = ["init_app", "register_rules", "ReflectedModelView"]


def register_rules(rules, custom_modules: tuple[str, ...] = ()) -> None:
    """The sections the screens read: ``[views.*]`` and ``[pages.*]``; ``custom_modules``
    (BACKOFFICE_CUSTOM_VIEWS) are checked with the custom screens of ``views/custom/``."""
    checks.register_rules(rules, custom_modules)
    page_spec.register_rules(rules)
    revert.register_rules(rules)
    approval_capture.register_rules(rules)


def init_app(app: Flask, db: SQLAlchemy, reflection: Reflection, settings: Settings) -> Admin:
    """Build this app's Admin (never module level) with a screen per reflected relation,
    tuned by the declarative file's ``[views.*]`` entries (hidden ones left out), custom
    screens from ``views/custom/`` and ``BACKOFFICE_CUSTOM_VIEWS`` replacing generated ones."""
    admin = Admin(
        app,
        name="Backoffice",
        theme=Bootstrap4Theme(swatch="default", base_template="backoffice/master.html", fluid=True),
        index_view=DashboardView(reflection),
    )
    declarations = app.extensions.get("backoffice.declarations") or Declarations()
    custom = discover(settings.backoffice_custom_views)
    owned = app.extensions.get("backoffice.queues.owned")  # queues/ownership.py
    screens = list(lazy.deferred_screens(reflection, declarations, db, custom, owned))
    for view in screens:  # each built when first used: start-up stays short on a big schema
        add_view(app, admin, view)
    lazy.init_app(app, screens)
    for queue in queue_specs(declarations, reflection):
        add_view(app, admin, ReviewQueueView(queue, db, reflection))
    with app.app_context():
        engine = db.engine
    for page in pages.page_views(declarations, engine, settings.statement_timeout_ms):
        add_view(app, admin, page)
    add_view(app, admin, AuditView(db, reflection))
    add_view(app, admin, SignInEventsView(db))
    add_view(app, admin, RevertView(db, reflection))
    add_view(app, admin, approvals.ApprovalsView(db, reflection))
    add_view(app, admin, SchemaReportView(reflection))
    add_view(app, admin, JumpView())
    ux.init_app(app, admin)
    fragments.init_app(app)
    pagers.init_app(app)
    list_parts.init_app(app)
    app.extensions["backoffice.admin"] = admin
    catalog_health.init_app(app, admin, db, reflection, settings)
    app.extensions.setdefault("backoffice.banners", [])
    approvals.init_app(app, admin, db)

    @app.context_processor
    def _backoffice_context():
        return {
            "backoffice_operator": current_operator,
            "backoffice_banners": lambda: [b for make in app.extensions["backoffice.banners"] if (b := make())],
            "backoffice_flashes": lambda: ux.shown_flashes(get_flashed_messages(with_categories=True)),
        }

    return admin
