"""Every engine of the console comes from here: the app's, the CLI's, the tests'.

One place decides the connection options (pre-ping, connect and pool timeouts, the
PostgreSQL statement timeout, SQLite's foreign keys and busy timeout) and where the
embedded demo database lives, so no command connects with other rules than the app.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from backoffice.core.settings import Settings

__all__ = ["DEMO_FILE", "instance_path", "demo_database_path", "database_url", "engine_options",
           "create_engine", "sqlite_pragmas"]

#: The embedded default database's file name, in the instance folder.
DEMO_FILE = "backoffice-demo.sqlite"


def instance_path() -> Path:
    """The instance folder: ``instance/`` under the working directory."""
    return Path.cwd() / "instance"


def demo_database_path(folder: Path | None = None) -> Path:
    """The embedded default: the demo catalog in a SQLite file in the instance folder."""
    return (folder or instance_path()) / DEMO_FILE


def database_url(settings: Settings, folder: Path | None = None) -> str:
    """``DATABASE_URL``, or the embedded demo database's URL when it is unset."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{demo_database_path(folder)}"


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


def create_engine(settings: Settings, url: str | None = None, **overrides) -> Engine:
    """An engine for ``url`` (default: the console's database) with the console's options."""
    url = url or database_url(settings)
    engine = sqlalchemy.create_engine(url, **{**engine_options(url, settings), **overrides})
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas)
    return engine


def sqlite_pragmas(dbapi_connection, _record) -> None:
    """Foreign keys on (SQLite leaves them off) and a busy timeout instead of instant errors."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
