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
from backoffice.core.values import safe_json_loads, sqlite_text

__all__ = ["CONNECT_TIMEOUT_S", "POOL_TIMEOUT_S", "DEMO_FILE", "instance_path", "demo_database_path", "database_url", "engine_options",
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


#: Seconds libpq may spend establishing a connection (its minimum useful value is 2).
CONNECT_TIMEOUT_S = 2
#: Seconds a request may wait for a pooled connection before it is told the console is busy.
POOL_TIMEOUT_S = 3


def engine_options(url: str, settings: Settings) -> dict:
    """Pool and connection options; on PostgreSQL every wait has a bound.

    Connecting: ``connect_timeout``. Waiting for the pool: ``pool_timeout``. A peer that
    vanished from the network: TCP keepalives and ``tcp_user_timeout`` (unacknowledged
    data), both enforced by the kernel. A query: ``statement_timeout`` on the server.
    A server that is alive on the network but does not answer (stopped, overloaded)
    defeats all of those; the console's requests add a client-side deadline for it
    (``backoffice/web/dbguard.py``), which also pings pooled connections on checkout,
    so SQLAlchemy's own pre-ping is off there (it would ping before the deadline applies).
    """
    # JSON nested too deep to decode stays text (backoffice/core/values.py): one row must not break a page.
    if make_url(url).get_backend_name() == "sqlite":
        # A SQLite connection is a file handle: there is no server to lose, and a ping is
        # one more statement per request.
        return {"pool_pre_ping": False, "json_deserializer": safe_json_loads}
    if make_url(url).get_backend_name() != "postgresql":
        return {"pool_pre_ping": True, "json_deserializer": safe_json_loads}
    server_options = "-c application_name=backoffice"
    if settings.statement_timeout_ms:
        server_options += f" -c statement_timeout={settings.statement_timeout_ms}"
    user_timeout_ms = (settings.statement_timeout_ms or 30000) + 5000
    return {
        "json_deserializer": safe_json_loads,
        "pool_pre_ping": False,
        "pool_size": 5,
        "max_overflow": 5,
        "pool_timeout": POOL_TIMEOUT_S,
        "connect_args": {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "options": server_options,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            "tcp_user_timeout": user_timeout_ms,
        },
    }


def create_engine(settings: Settings, url: str | None = None, **overrides) -> Engine:
    """An engine for ``url`` (default: the console's database) with the console's options."""
    url = url or database_url(settings)
    engine = sqlalchemy.create_engine(url, **{**engine_options(url, settings), **overrides})
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas)
    return engine


def sqlite_pragmas(dbapi_connection, _record) -> None:
    """Foreign keys on (SQLite leaves them off) and a busy timeout instead of instant errors;
    text that is not UTF-8 is read as its bytes instead of failing the whole query."""
    dbapi_connection.text_factory = sqlite_text
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
