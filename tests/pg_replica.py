"""A primary and a real streaming replica made with ``pg_basebackup`` (as the postgres user).

Built on :class:`testing_support.postgres.PostgresServer`: the primary is an ordinary throwaway
cluster (its default ``wal_level=replica`` and initdb's ``host replication`` trust
line on loopback are all streaming needs); the replica is a base backup of it with
``-R`` (standby.signal and primary_conninfo written), started on its own port.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from testing_support.ports import SERVICE_PORTS, free_port
from testing_support.postgres import PostgresServer

__all__ = ["ReplicaPair", "start_pair"]


@dataclass
class ReplicaPair:
    """``primary`` and ``replica`` (both PostgresServer); ``replica`` stays a hot standby."""

    primary: PostgresServer
    replica: PostgresServer

    def sql(self, server: PostgresServer, sql: str, database: str = "postgres"):
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=server.port, user="postgres", dbname=database)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall() if cursor.description else None
        finally:
            conn.close()

    def wait_replayed(self, timeout: float = 60) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        target = self.sql(self.primary, "SELECT pg_current_wal_insert_lsn()")[0][0]
        deadline = time.monotonic() + timeout
        while True:
            done = self.sql(self.replica, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")[0][0]
            if done:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the replica did not replay up to {target} within {timeout} s")
            time.sleep(0.05)

    def pause_replay(self) -> None:
        self.sql(self.replica, "SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.sql(self.replica, "SELECT pg_wal_replay_resume()")

    def stop(self) -> None:
        self.replica.stop()
        self.primary.stop()


def start_pair(bindir: Path) -> ReplicaPair:
    """A fresh primary and its streaming replica, both on ports below the ephemeral range."""
    bindir = (bindir / "pg_ctl").resolve().parent  # pg_basebackup sits beside the real pg_ctl, not its link
    primary = PostgresServer.start(bindir)
    root = Path(tempfile.mkdtemp(prefix="backoffice-pg-replica-"))
    replica = PostgresServer(bindir, root, free_port(SERVICE_PORTS), primary.settings)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    try:
        replica.run(["pg_basebackup", "-R", "-X", "stream", "-c", "fast", "-D", str(root / "data"),
                     "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"])
        replica.start_server()
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        primary.stop()
        raise
    pair = ReplicaPair(primary, replica)
    assert pair.sql(replica, "SELECT pg_is_in_recovery()")[0][0] is True
    return pair
