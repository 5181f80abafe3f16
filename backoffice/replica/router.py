"""Where a heavy read goes: the replica when it is up and close enough, else the primary.

The router is handed only to read paths (catalog health and its exports, queue counts
for /metrics, exports and the lists of large tables through :mod:`backoffice.replica.heavy`); nothing that writes ever receives it, and its replica connections are
opened with ``default_transaction_read_only=on`` besides, so a mistake is refused by
PostgreSQL instead of being attempted.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

__all__ = ["ReadRouter", "Route", "lsn_number", "DOWN_RETRY_SECONDS", "EXTENSION"]

log = logging.getLogger("backoffice.replica")

#: Where an app keeps its router (``app.extensions``).
EXTENSION = "backoffice.replica"
#: After a failed connection, reads skip the replica this long before trying it again,
#: so a dead replica costs one connection attempt per interval, not one per page.
DOWN_RETRY_SECONDS = 5.0
#: The replica must answer its state within this time, or it counts as down.
STATE_TIMEOUT_MS = 1000

#: Replay lag in seconds, 0 when everything received is replayed; NULL when unknown.
_STATE_SQL = text("""
    SELECT pg_is_in_recovery() AS standby,
           CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END AS lag,
           pg_last_wal_replay_lsn()::text AS replayed
""")


def lsn_number(lsn: str | None) -> int | None:
    """A PostgreSQL LSN (``16/B374D848``) as a comparable integer."""
    if not lsn or "/" not in lsn:
        return None
    high, _, low = lsn.partition("/")
    try:
        return (int(high, 16) << 32) | int(low, 16)
    except ValueError:
        return None


@dataclass(frozen=True)
class Route:
    """One decision: the engine to read from, ``replica`` or ``primary``, and why."""

    engine: Engine
    target: str
    reason: str


class ReadRouter:
    """Chooses the engine for one heavy read.

    ``replica`` None (no ``DATABASE_REPLICA_URL``): every read goes to the primary.
    Otherwise the replica is used when it answers, is a standby, lags at most
    ``max_lag_seconds`` and has replayed ``min_lsn`` (the reader's own last write;
    by default what ``position()`` says, e.g. from the request's session). Lists and
    counts of tables estimated at ``min_rows`` rows or more are heavy; smaller ones
    are not worth the replica's state query and stay on the primary.
    """

    def __init__(self, primary: Engine, replica: Engine | None, max_lag_seconds: float,
                 position: Callable[[], str | None] | None = None, clock: Callable[[], float] = time.monotonic,
                 min_rows: int = 100_000):
        self.primary = primary
        self.min_rows = min_rows
        self.position = position
        self.replica = replica
        self.max_lag_seconds = max_lag_seconds
        self._clock = clock
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.listeners: list[Callable[[Route], None]] = []

    def route(self, min_lsn: str | None = None) -> Route:
        """Decide, tell the listeners (metrics), and return the decision."""
        if min_lsn is None and self.position is not None:
            min_lsn = self.position()
        decision = self._decide(min_lsn)
        for listener in self.listeners:
            listener(decision)
        return decision

    def engine_for_reads(self, min_lsn: str | None = None) -> Engine:
        return self.route(min_lsn).engine

    def _decide(self, min_lsn: str | None) -> Route:
        if self.replica is None:
            return Route(self.primary, "primary", "no replica")
        if self._clock() < self._down_until:
            return Route(self.primary, "primary", "replica down")
        try:
            with self.replica.connect() as conn:
                conn.exec_driver_sql(f"SET statement_timeout = {STATE_TIMEOUT_MS}")
                state = conn.execute(_STATE_SQL).one()
                conn.exec_driver_sql("RESET statement_timeout")
        except DBAPIError as exc:
            self.mark_down()
            log.warning("the read replica did not answer (%s); reading from the primary for %.0f s",
                        type(exc.orig or exc).__name__, DOWN_RETRY_SECONDS, extra={"event": "replica.down"})
            return Route(self.primary, "primary", "replica down")
        if not state.standby:
            return Route(self.primary, "primary", "not a standby")
        if state.lag is None or float(state.lag) > self.max_lag_seconds:
            return Route(self.primary, "primary", "replica lagging")
        wanted = lsn_number(min_lsn)
        if wanted is not None and (lsn_number(state.replayed) or 0) < wanted:
            return Route(self.primary, "primary", "own write not replayed")
        return Route(self.replica, "replica", "replica fresh")

    def mark_down(self) -> None:
        """Skip the replica for the retry interval (it failed a connection or a read)."""
        with self._lock:
            self._down_until = self._clock() + DOWN_RETRY_SECONDS

    def dispose(self) -> None:
        if self.replica is not None:
            self.replica.dispose()
