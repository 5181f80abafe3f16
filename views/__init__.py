"""Flask-Admin views: the generated screens and the console's own pages."""
from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_sqlalchemy import SQLAlchemy

from backoffice.access import current_operator
from backoffice.settings import Settings
from models.reflection import Reflection

from .base import ReflectedModelView, view_for
from .dashboard import DashboardView
from .report import SchemaReportView

__all__ = ["init_app", "ReflectedModelView"]


def init_app(app: Flask, db: SQLAlchemy, reflection: Reflection, settings: Settings) -> Admin:
    """Build this app's Admin (never module level) with a screen per reflected relation."""
    admin = Admin(
        app,
        name="Backoffice",
        theme=Bootstrap4Theme(swatch="default", base_template="backoffice/master.html", fluid=True),
        index_view=DashboardView(reflection),
    )
    for screen, entry in reflection.tables.items():
        if entry.model is not None:
            admin.add_view(view_for(entry, screen, db))
    admin.add_view(SchemaReportView(reflection))
    app.extensions["backoffice.admin"] = admin
    app.extensions.setdefault("backoffice.banners", [])

    @app.context_processor
    def _backoffice_context():
        return {
            "backoffice_operator": current_operator,
            "backoffice_banners": lambda: [b for make in app.extensions["backoffice.banners"] if (b := make())],
        }

    return admin
