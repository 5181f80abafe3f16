"""The tests' PostgreSQL: :mod:`testing_support.postgres` plus what a missing server means here."""
from __future__ import annotations

from pathlib import Path

from testing_support.postgres import PostgresServer, find_binaries, postgres_required
from tests.services import require

__all__ = ["PostgresServer", "find_binaries", "postgres_required", "require_binaries"]


def require_binaries() -> Path:
    """The PostgreSQL binaries' directory, or skip (fail under BACKOFFICE_REQUIRE_POSTGRES=1)."""
    return require(find_binaries(), "PostgreSQL server binaries (pg_ctl, initdb)", "BACKOFFICE_REQUIRE_POSTGRES",
                   "apt-get install postgresql")
