"""The app's database binding: Flask-SQLAlchemy with the console's engine options,
and the embedded demo catalog seeded on first start when ``DATABASE_URL`` is unset."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event

from backoffice.core.engine import database_url, demo_database_path, engine_options, sqlite_pragmas
from backoffice.core.settings import Settings
from backoffice.demo import seed_demo
from models.own import init_db

__all__ = ["init_app"]

log = logging.getLogger(__name__)


def init_app(app: Flask, settings: Settings) -> SQLAlchemy:
    folder = Path(app.instance_path)
    url = database_url(settings, folder)
    seed = False
    if settings.database_url is None:
        path = demo_database_path(folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = not path.exists()
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url, settings)
    db = SQLAlchemy()
    db.init_app(app)
    app.extensions["backoffice.db"] = db
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", sqlite_pragmas)
        if seed:
            log.warning("DATABASE_URL is not set: seeding the demo catalog into %s", url)
            seed_demo(db.engine)
            init_db(db.engine)
    return db
