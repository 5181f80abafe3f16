"""A throwaway PostgreSQL cluster for the test session (works when running as root).

``initdb`` and ``pg_ctl`` refuse to run as root, so as root they run as the
``postgres`` OS user in a directory it owns. Each test gets a fresh database,
cloned from a template that already holds the seeded demo catalog.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "find_binaries", "postgres_required"]


def postgres_required() -> bool:
    """CI sets BACKOFFICE_REQUIRE_POSTGRES=1: missing binaries then fail instead of skip."""
    return os.environ.get("BACKOFFICE_REQUIRE_POSTGRES") == "1"


def find_binaries() -> Path | None:
    for candidate in [shutil.which("pg_ctl"), *sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)]:
        if candidate and Path(candidate).exists():
            return Path(candidate).parent
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    """One running cluster on loopback; ``url(db)`` builds a connection URL."""

    bindir: Path
    root: Path
    port: int

    @classmethod
    def start(cls, bindir: Path) -> "PostgresServer":
        root = Path(tempfile.mkdtemp(prefix="backoffice-pg-"))
        server = cls(bindir=bindir, root=root, port=_free_port())
        as_postgres = server._as_postgres()
        if as_postgres:
            shutil.chown(root, "postgres", "postgres")
        server._run(["initdb", "-D", str(root / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                     "--no-sync", "--locale=C"])
        server.start_server()
        return server

    def _as_postgres(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        argv = [*self._as_postgres(), str(self.bindir / argv[0]), *argv[1:]]
        return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=120)

    def start_server(self) -> None:
        self._run(["pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-w", "-o",
                   f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                   "start"])

    def stop_server(self, mode: str = "fast") -> None:
        self._run(["pg_ctl", "-D", str(self.root / "data"), "-m", mode, "-w", "stop"], check=False)

    def stop(self) -> None:
        self.stop_server("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin_sql(self, sql: str) -> None:
        """Run one statement on the maintenance database, outside a transaction."""
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
        finally:
            conn.close()

    def create_database(self, name: str, template: str | None = None) -> str:
        for attempt in range(20):
            try:
                self.admin_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
                return self.url(name)
            except Exception as exc:  # template still in use by a closing connection
                if "being accessed by other users" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.1)
        raise AssertionError("unreachable")
