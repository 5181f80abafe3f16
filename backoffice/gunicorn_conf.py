"""gunicorn settings: build the app once in the master, fork the workers from it.

``gunicorn -c python:backoffice.gunicorn_conf wsgi:app`` (the container's command,
and how ``backoffice bench`` serves every app it compares). With the app preloaded,
reflection runs once instead of once per worker, and the workers share the
master's memory pages for everything imported and built at start-up: a worker's
own (private) memory is what its requests allocate. Two things make that hold:

- the database connections the master opened while reflecting are closed before
  each fork, so no two processes ever talk over the same socket (every worker opens
  its own connections on first use);
- ``gc.freeze()`` moves every start-up object into the collector's permanent
  generation, so the workers' garbage collections do not write to (and thereby
  copy) the shared pages that hold them.
"""
from __future__ import annotations

import gc

__all__ = ["preload_app", "pre_fork", "close_database_connections"]

preload_app = True


def close_database_connections(app) -> None:
    """Close the pooled connections of every Flask-SQLAlchemy engine of ``app``."""
    extension = getattr(app, "extensions", {}).get("sqlalchemy")
    if extension is None:
        return
    with app.app_context():
        for engine in extension.engines.values():
            engine.dispose()


def pre_fork(server, worker) -> None:  # gunicorn hook, runs in the master before each fork
    close_database_connections(server.app.wsgi())
    gc.freeze()
