"""The tests' PostgreSQL: :mod:`testing_support.postgres` plus what a missing server means here."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine

from backoffice.core.settings import normalise_database_url
from backoffice.demo import seed_demo
from testing_support.postgres import PostgresServer, find_binaries, postgres_required
from tests.services import require

__all__ = ["PostgresServer", "find_binaries", "postgres_required", "require_binaries", "seeded_cluster"]


def require_binaries() -> Path:
    """The PostgreSQL binaries' directory, or skip (fail under BACKOFFICE_REQUIRE_POSTGRES=1)."""
    return require(find_binaries(), "PostgreSQL server binaries (pg_ctl, initdb)", "BACKOFFICE_REQUIRE_POSTGRES",
                   "apt-get install postgresql")


def seeded_cluster(database: str, movies: int, seed: int) -> Iterator[tuple[PostgresServer, str]]:
    """A cluster of a test module's own (its tests stop, cut off or restart it) holding the
    demo catalog in ``database``; for a fixture: ``yield from seeded_cluster(...)``."""
    server = PostgresServer.start(require_binaries())
    try:
        url = server.create_database(database)
        engine = create_engine(normalise_database_url(url))
        seed_demo(engine, movies=movies, seed=seed)
        engine.dispose()
        yield server, url
    finally:
        server.stop()
