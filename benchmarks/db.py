"""The benchmark's PostgreSQL: a persistent cluster on loopback, seeded once and reused.

Seeding a million movies takes minutes, so the cluster lives in a directory that
survives between runs (``instance/bench-pg`` by default) and is only re-seeded when
its ``movies`` table does not hold the requested number of rows.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BenchDatabase", "ensure_database"]


def _pg_bindir() -> Path:
    for candidate in [shutil.which("pg_ctl"), *sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)]:
        if candidate and Path(candidate).exists():
            return Path(candidate).parent
    raise RuntimeError("PostgreSQL server binaries (pg_ctl, initdb) are not installed; set DATABASE_URL instead")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class BenchDatabase:
    """A cluster in ``root`` (started if needed) and the URL of its ``bench`` database."""

    root: Path
    url: str
    started_here: bool
    bindir: Path | None = None

    def stop(self) -> None:
        if self.started_here and self.bindir is not None:
            subprocess.run([*_as_postgres(), str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"),
                            "-m", "fast", "-w", "stop"], capture_output=True, check=False, timeout=60)


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def ensure_database(root: Path) -> BenchDatabase:
    """Start (creating if needed) the persistent cluster in ``root``; return its bench URL."""
    bindir = _pg_bindir()
    root = root.resolve()
    data = root / "data"
    run = lambda argv: subprocess.run([*_as_postgres(), str(bindir / argv[0]), *argv[1:]],  # noqa: E731
                                      capture_output=True, text=True, check=True, timeout=300)
    if not data.exists():
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        run(["initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C"])
    port_file = root / "port"
    started = False
    status = subprocess.run([*_as_postgres(), str(bindir / "pg_ctl"), "-D", str(data), "status"],
                            capture_output=True, text=True, check=False)
    if status.returncode != 0:
        port = _free_port()
        # Settings close to a small production box; fsync off only because the data is disposable.
        run(["pg_ctl", "-D", str(data), "-l", str(root / "log"), "-w", "-o",
             f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off -c synchronous_commit=off "
             "-c shared_buffers=256MB -c max_connections=100", "start"])
        port_file.write_text(str(port))
        started = True
    port = int(port_file.read_text())
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'bench'")
        if cursor.fetchone() is None:
            cursor.execute("CREATE DATABASE bench")
    conn.close()
    return BenchDatabase(root=root, url=f"postgresql://postgres@127.0.0.1:{port}/bench", started_here=started,
                         bindir=bindir)
