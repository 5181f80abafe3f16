"""The benchmark's PostgreSQL: a persistent cluster on loopback, seeded once and reused.

Seeding a million movies takes minutes, so the cluster lives in a directory that
survives between runs (``instance/bench-pg`` by default) and is only re-seeded when
its ``movies`` table does not hold the requested number of rows. The cluster itself
is :class:`testing_support.PostgresServer` (run as the ``postgres`` user when root).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from testing_support import PostgresServer

__all__ = ["BenchDatabase", "ensure_database"]


@dataclass
class BenchDatabase:
    """The cluster kept in a directory and the URL of its ``bench`` database."""

    server: PostgresServer
    url: str
    started_here: bool

    def stop(self) -> None:
        """Stop the server if this run started it; the data stays for the next run."""
        if self.started_here:
            self.server.stop()


def ensure_database(root: Path) -> BenchDatabase:
    """Start (creating if needed) the persistent cluster in ``root``; return its bench database."""
    server, started = PostgresServer.reuse(root)
    return BenchDatabase(server, server.create_database("bench", exist_ok=True), started)
