"""The tamper-evident chain of audit rows: hashing, appending and verifying.

Each row stores ``prev_hash`` (the previous row's ``row_hash``, in id order) and
``row_hash`` = SHA-256 of the canonical JSON of its own content including
``prev_hash``. Changing, inserting or deleting any row breaks the chain at that
row. On PostgreSQL appends are serialised by a transaction-scoped advisory lock,
so concurrent writers (threads, processes, instances) never fork the chain; on
SQLite the flush that precedes every append already holds the database's write lock.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, text

from models.own import audit_events

from audit_hooks.changeset import ChangeSet

__all__ = ["GENESIS", "CHAIN_LOCK_KEY", "row_hash", "append", "verify", "Verification"]

GENESIS = "0" * 64
#: The advisory-lock key of the chain ("backoffi" as a signed 64-bit integer).
CHAIN_LOCK_KEY = int.from_bytes(b"backoffi", "big")
_HASHED = ("occurred_at", "actor", "actor_role", "action", "entity_type", "entity_id", "changes", "reason",
           "client_addr", "request_id", "prev_hash")


def _utc_text(value: dt.datetime) -> str:
    # SQLite gives naive datetimes back (stored as UTC), PostgreSQL aware ones in the session zone.
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(content: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON (sorted keys, no spaces) of a row's hashed fields."""
    canonical = {key: content.get(key) for key in _HASHED}
    canonical["occurred_at"] = _utc_text(canonical["occurred_at"])
    data = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})


def append(connection: Connection, changeset: ChangeSet) -> list[int]:
    """Insert one audit row per changed row, chained, in ``connection``'s transaction."""
    _lock(connection)
    previous = connection.execute(
        select(audit_events.c.row_hash).order_by(audit_events.c.id.desc()).limit(1)).scalar() or GENESIS
    ids = []
    for row in changeset.rows:
        content = {
            "occurred_at": changeset.occurred_at, "actor": changeset.actor[:200],
            "actor_role": changeset.actor_role[:20], "action": changeset.action_for(row)[:100],
            "entity_type": row.table, "entity_id": row.entity_id[:500], "changes": row.as_changes(),
            "reason": changeset.reason, "client_addr": (changeset.client_addr or None) and changeset.client_addr[:64],
            "request_id": changeset.request_id, "prev_hash": previous,
        }
        content["row_hash"] = previous = row_hash(content)
        ids.append(connection.execute(insert(audit_events).values(**content)).inserted_primary_key[0])
    return ids


@dataclass
class Verification:
    """The outcome of :func:`verify`: rows checked and the first row that does not verify."""

    checked: int
    bad_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.bad_id is None


def _rows(connection: Connection) -> Iterator[Any]:
    result = connection.execution_options(yield_per=1000).execute(select(audit_events).order_by(audit_events.c.id))
    yield from result.mappings()


def verify(connection: Connection) -> Verification:
    """Walk the chain in id order; stop at the first row whose links or content do not match."""
    previous, checked = GENESIS, 0
    for row in _rows(connection):
        if row["prev_hash"] != previous:
            return Verification(checked, row["id"], "its prev_hash does not match the previous row's hash "
                                "(a row before it was changed, removed or inserted)")
        if row_hash(dict(row)) != row["row_hash"]:
            return Verification(checked, row["id"], "its content does not match its row_hash (the row was changed)")
        previous = row["row_hash"]
        checked += 1
    return Verification(checked)
