"""The engine and session of the target database (Flask-SQLAlchemy, one per app)."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import make_url

from .settings import Settings

__all__ = ["init_app", "default_database_path", "engine_options"]

log = logging.getLogger(__name__)
DEMO_FILE = "backoffice-demo.sqlite"


def default_database_path(app: Flask) -> Path:
    """The embedded default: the demo catalog in a SQLite file in the instance folder."""
    return Path(app.instance_path) / DEMO_FILE


def engine_options(url: str, settings: Settings) -> dict:
    """Pool and connection options: pre-ping everywhere, timeouts on PostgreSQL."""
    options: dict = {"pool_pre_ping": True}
    if make_url(url).get_backend_name() == "postgresql":
        server_options = "-c application_name=backoffice"
        if settings.statement_timeout_ms:
            server_options += f" -c statement_timeout={settings.statement_timeout_ms}"
        options["connect_args"] = {"connect_timeout": 5, "options": server_options}
        options["pool_size"] = 5
        options["max_overflow"] = 5
        options["pool_timeout"] = 10
    return options


def init_app(app: Flask, settings: Settings) -> SQLAlchemy:
    url = settings.database_url
    seed = False
    if url is None:
        path = default_database_path(app)
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = not path.exists()
        url = f"sqlite:///{path}"
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url, settings)
    db = SQLAlchemy()
    db.init_app(app)
    app.extensions["backoffice.db"] = db
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        if seed:
            from .demo import seed_demo
            from models.own import init_db

            log.warning("DATABASE_URL is not set: seeding the demo catalog into %s", url)
            seed_demo(db.engine)
            init_db(db.engine)
    return db


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
