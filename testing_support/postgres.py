"""PostgreSQL clusters on loopback for tests and benchmarks, run as the ``postgres`` user.

``initdb`` and ``pg_ctl`` refuse to run as root, so as root they run through
``runuser -u postgres --`` in a directory that user owns. Two lifetimes:

* :meth:`PostgresServer.start`: a throwaway cluster in a fresh temporary directory,
  removed by :meth:`~PostgresServer.stop` (the test session, one benchmark run);
* :meth:`PostgresServer.reuse`: a cluster kept in a directory between runs (a
  benchmark's million seeded movies), started when it is not running.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from testing_support.ports import SERVICE_PORTS, free_port

__all__ = ["PostgresServer", "find_binaries", "postgres_required", "as_postgres", "TEST_SETTINGS",
           "BENCH_SETTINGS"]

#: Disposable data: durability off, room for every worker of every test server.
TEST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200")
#: Close to a small production box; fsync off only because the data can be seeded again.
BENCH_SETTINGS = ("fsync=off", "synchronous_commit=off", "shared_buffers=256MB", "max_connections=100")


def postgres_required() -> bool:
    """CI sets BACKOFFICE_REQUIRE_POSTGRES=1: missing binaries then fail instead of skip."""
    return os.environ.get("BACKOFFICE_REQUIRE_POSTGRES") == "1"


def find_binaries() -> Path | None:
    """The directory holding ``pg_ctl`` and ``initdb`` (PATH first, then Debian's newest), or None."""
    for candidate in [shutil.which("pg_ctl"), *sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)]:
        if candidate and Path(candidate).exists():
            return Path(candidate).parent
    return None


def as_postgres() -> list[str]:
    """The command prefix that runs a server tool as the ``postgres`` user when we are root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PostgresServer:
    """One cluster on 127.0.0.1 (data in ``root / "data"``); ``url(db)`` builds a connection URL."""

    bindir: Path
    root: Path
    port: int
    settings: tuple[str, ...] = TEST_SETTINGS
    #: True for a throwaway cluster: :meth:`stop` removes ``root``.
    disposable: bool = True

    @classmethod
    def start(cls, bindir: Path | None = None, settings: tuple[str, ...] = TEST_SETTINGS) -> "PostgresServer":
        """Create and start a throwaway cluster in a new temporary directory."""
        root = Path(tempfile.mkdtemp(prefix="backoffice-pg-"))
        server = cls(_bindir(bindir), root, 0, settings)
        server._init()
        server._start_on_a_free_port()
        return server

    @classmethod
    def reuse(cls, root: Path, bindir: Path | None = None,
              settings: tuple[str, ...] = BENCH_SETTINGS) -> tuple["PostgresServer", bool]:
        """The cluster kept in ``root``: created when missing, started when not running.

        Returns the server and whether this call started it (then the caller stops it,
        with :meth:`stop`, which keeps the data).
        """
        root = root.resolve()
        server = cls(_bindir(bindir), root, 0, settings, disposable=False)
        if not (root / "data").exists():
            root.mkdir(parents=True, exist_ok=True)
            server._init()
        port_file = root / "port"
        if server.run(["pg_ctl", "-D", str(root / "data"), "status"], check=False).returncode == 0 \
                and port_file.exists():
            server.port = int(port_file.read_text())
            return server, False
        server._start_on_a_free_port()
        port_file.write_text(str(server.port))
        return server, True

    def _init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.run(["initdb", "-D", str(self.root / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--locale=C"])

    def _start_on_a_free_port(self) -> None:
        # A port found free can be taken before the server binds it (other suites run on
        # this machine too): try another one.
        for attempt in range(3):
            self.port = free_port(SERVICE_PORTS)
            try:
                self.start_server()
                return
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise RuntimeError(f"PostgreSQL did not start; its log:\n{self.log_tail()}") from None

    def run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        """Run the server tool ``argv[0]`` (``pg_ctl``, ``initdb``, ``pg_basebackup``...) as the cluster's owner."""
        argv = [*as_postgres(), str(self.bindir / argv[0]), *argv[1:]]
        return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=300)

    def start_server(self) -> None:
        """Start the cluster's server (again) on ``self.port``, waiting until it accepts connections."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} " + \
            " ".join(f"-c {setting}" for setting in self.settings)
        self.run(["pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-w", "-o", options,
                  "start"])

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server, keeping the data (``mode``: smart, fast or immediate)."""
        self.run(["pg_ctl", "-D", str(self.root / "data"), "-m", mode, "-w", "stop"], check=False)

    def stop(self) -> None:
        """Stop the server; a throwaway cluster's directory goes with it."""
        if self.disposable:
            self.stop_server("immediate")
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            self.stop_server("fast")

    def log_tail(self, lines: int = 30) -> str:
        log = self.root / "log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin_sql(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run one statement on the maintenance database, outside a transaction; its rows."""
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()

    def create_database(self, name: str, template: str | None = None, exist_ok: bool = False) -> str:
        """Create database ``name`` (a copy of ``template`` if given); return its URL."""
        if exist_ok and self.admin_sql("SELECT 1 FROM pg_database WHERE datname = %s", (name,)):
            return self.url(name)
        for attempt in range(20):
            try:
                self.admin_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
                return self.url(name)
            except Exception as exc:  # the template is still held by a closing connection
                if "being accessed by other users" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.1)
        raise AssertionError("unreachable")

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, closing its connections."""
        self.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # The names the tests used before this module existed.
    _run = run

    @staticmethod
    def _as_postgres() -> list[str]:
        return as_postgres()


def _bindir(bindir: Path | None) -> Path:
    found = bindir or find_binaries()
    if found is None:
        raise RuntimeError("PostgreSQL server binaries (pg_ctl, initdb) are not installed "
                           "(apt-get install postgresql); or pass a DATABASE_URL")
    return found
