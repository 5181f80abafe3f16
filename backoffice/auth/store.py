"""A failed-sign-in store shared by every worker of one host: a SQLite file.

Flask-Limiter's default ``memory://`` store lives in one process, so with ``N``
gunicorn workers an attacker gets ``N`` times the configured number of guesses.
Without Redis the console keeps the moving-window entries in a SQLite file in the
instance folder instead: every worker (and every console started from the same
folder) opens the same file, and each check-and-record runs in one ``BEGIN
IMMEDIATE`` transaction, so two workers can never both take the last attempt.

The class is a ``limits`` storage (scheme ``backoffice+sqlite``); defining it
registers the scheme with the ``limits`` library, which is how that library finds
storages by URI. Connections are opened per process and thread on first use: a
SQLite connection must never cross a ``fork`` (the gunicorn master builds the app).
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from limits.storage import MovingWindowSupport, Storage

__all__ = ["SqliteFileStorage", "SCHEME", "storage_uri"]

SCHEME = "backoffice+sqlite"
#: Waiting for another worker's transaction: bounded, then the request fails closed.
_BUSY_TIMEOUT_S = 2.0
_SWEEP_EVERY = 200


def storage_uri(path: Path) -> str:
    """The ``limits`` URI of the store kept in ``path``."""
    return f"{SCHEME}:///{Path(path).resolve()}"


class SqliteFileStorage(Storage, MovingWindowSupport):
    """Moving-window (and fixed-window) counters in one SQLite file, shared by processes."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = Path(uri.split("://", 1)[1])
        self._local = threading.local()
        self._calls = 0
        self._connect()  # the file and its tables now: an unwritable folder fails start-up, not a sign-in

    @property
    def base_exceptions(self):
        return sqlite3.Error

    # -- connections ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT NOT NULL, at REAL NOT NULL, "
                     "expires REAL NOT NULL)")
        conn.execute("CREATE INDEX IF NOT EXISTS entries_key_at ON entries (key, at)")
        conn.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL, "
                     "expires REAL NOT NULL)")
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _transaction(self):
        return _Immediate(self._connect())

    def _sweep(self, conn: sqlite3.Connection, now: float) -> None:
        # Keys nobody asks about again (one attempt from a passing address) are removed
        # now and then, so the file stays as small as the windows it tracks.
        self._calls += 1
        if self._calls % _SWEEP_EVERY == 0:
            conn.execute("DELETE FROM entries WHERE expires < ?", (now,))
            conn.execute("DELETE FROM counters WHERE expires < ?", (now,))

    # -- moving window -----------------------------------------------------------------
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._transaction() as conn:
            conn.execute("DELETE FROM entries WHERE key = ? AND at < ?", (key, now - expiry))
            (count,) = conn.execute("SELECT count(*) FROM entries WHERE key = ?", (key,)).fetchone()
            if count + amount > limit:
                return False
            conn.executemany("INSERT INTO entries (key, at, expires) VALUES (?, ?, ?)",
                             [(key, now, now + expiry)] * amount)
            self._sweep(conn, now)
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        oldest, count = self._connect().execute(
            "SELECT min(at), count(*) FROM entries WHERE key = ? AND at >= ?", (key, now - expiry)).fetchone()
        return (oldest, count) if count else (now, 0)

    # -- fixed window (the base class requires it; the console uses the moving window) --
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._transaction() as conn:
            row = conn.execute("SELECT value, expires FROM counters WHERE key = ?", (key,)).fetchone()
            if row is None or row[1] <= now:
                value = amount
                conn.execute("INSERT OR REPLACE INTO counters (key, value, expires) VALUES (?, ?, ?)",
                             (key, value, now + expiry))
            else:
                value = row[0] + amount
                conn.execute("UPDATE counters SET value = ? WHERE key = ?", (value, key))
        return value

    def get(self, key: str) -> int:
        row = self._connect().execute("SELECT value FROM counters WHERE key = ? AND expires > ?",
                                      (key, time.time())).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._connect().execute("SELECT expires FROM counters WHERE key = ?", (key,)).fetchone()
        return row[0] if row else time.time()

    def check(self) -> bool:
        try:
            self._connect().execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        with self._transaction() as conn:
            removed = conn.execute("DELETE FROM entries").rowcount + conn.execute("DELETE FROM counters").rowcount
        return removed

    def clear(self, key: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM entries WHERE key = ?", (key,))
            conn.execute("DELETE FROM counters WHERE key = ?", (key,))


class _Immediate:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rollback on error): one writer at a time across processes."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if kind else "COMMIT")
