"""The two apps the benchmark serves with gunicorn, from ``DATABASE_URL``.

``console_app()`` is the console exactly as deployed, with the movies screen tuned
the way a declarative file would tune it (search on the title). ``plain_app()`` is
a plain Flask-Admin ``ModelView`` of the same automapped ``movies`` table with
default settings, plus the same search and filter so the same URLs mean the same
work.
"""
from __future__ import annotations

import os

from flask import Flask

__all__ = ["console_app", "plain_app", "plain_simple_app", "SEARCH_COLUMNS", "FILTER_COLUMNS"]

SEARCH_COLUMNS = ["title"]
FILTER_COLUMNS = ["release_date"]


def console_app():
    """The console, movies screen searchable by title (its filters default to indexed columns)."""
    from console.app import create_app

    app = create_app()
    for view in app.extensions["backoffice.admin"]._views:
        if getattr(view, "screen", None) == "movies" and not view.column_searchable_list:
            view.column_searchable_list = SEARCH_COLUMNS
            view._refresh_cache()
    return app


def plain_simple_app():
    """Plain Flask-Admin with ``simple_list_pager``: no count at all (the floor to beat)."""
    return plain_app(simple_list_pager=True)


def plain_app(simple_list_pager: bool = False):
    """Flask-Admin out of the box: one ModelView, no count or paging changes."""
    from flask_admin import Admin
    from flask_admin.contrib.sqla import ModelView
    from flask_admin.theme import Bootstrap4Theme
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy import MetaData
    from sqlalchemy.ext.automap import automap_base

    from backoffice.core.settings import normalise_database_url

    app = Flask("plain_flask_admin")
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "bench")
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(os.environ["DATABASE_URL"])
    db = SQLAlchemy(app)
    with app.app_context():
        metadata = MetaData()
        metadata.reflect(db.engine, only=["movies"])
    base = automap_base(metadata=metadata)
    base.prepare()
    admin = Admin(app, name="Plain", theme=Bootstrap4Theme(swatch="default"))

    class PlainMoviesView(ModelView):
        column_searchable_list = SEARCH_COLUMNS
        column_filters = FILTER_COLUMNS

    PlainMoviesView.simple_list_pager = simple_list_pager

    admin.add_view(PlainMoviesView(base.classes.movies, db))
    return app
