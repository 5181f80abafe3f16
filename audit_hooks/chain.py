"""The tamper-evident chain of audit rows: hashing, signing, appending and verifying.

Each row stores ``prev_hash`` (the previous row's ``row_hash``, in id order),
``row_hash`` = SHA-256 of the canonical JSON of its own content including
``prev_hash``, and ``mac`` = HMAC-SHA256 of the same bytes under the signing key
named by ``key_id`` (:mod:`audit_hooks.signing`). Changing, inserting or deleting a
row breaks the links at that row; recomputing the hashes after a change is caught
by the MAC, which needs a key the database never holds. Removing the newest rows
leaves a shorter chain that links correctly: signed checkpoints kept outside the
table catch that (:mod:`audit_hooks.checkpoints`).

Rows written before signing existed have no ``key_id`` (their canonical content is
the old one, so their hashes still verify); once a signed row follows them, its MAC
covers their whole chain through ``prev_hash``. An unsigned row after a signed one
is a break.

On PostgreSQL appends are serialised by a transaction-scoped advisory lock, taken
with ``lock_timeout`` set (so a stuck writer yields a clear refusal, not a hang);
on SQLite the flush that precedes every append already holds the write lock.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from models.own import audit_events

from audit_hooks.changeset import ChangeSet
from audit_hooks.signing import Keyring

__all__ = ["GENESIS", "CHAIN_LOCK_KEY", "canonical", "row_hash", "append", "verify", "Verification", "lock",
           "head"]

GENESIS = "0" * 64
#: The advisory-lock key of the chain ("backoffi" as a signed 64-bit integer).
CHAIN_LOCK_KEY = int.from_bytes(b"backoffi", "big")
_HASHED = ("occurred_at", "actor", "actor_role", "action", "entity_type", "entity_id", "changes", "reason",
           "client_addr", "request_id", "prev_hash")
_SIGNED = (*_HASHED, "caused_by", "key_id")


def _utc_text(value: dt.datetime) -> str:
    # SQLite gives naive datetimes back (stored as UTC), PostgreSQL aware ones in the session zone.
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(content: dict[str, Any]) -> bytes:
    """The bytes hashed and signed: canonical JSON (sorted keys, no spaces) of the row's
    content; rows from before signing (no ``key_id``) keep their original field set."""
    names = _SIGNED if content.get("key_id") else _HASHED
    data = {key: content.get(key) for key in names}
    data["occurred_at"] = _utc_text(data["occurred_at"])
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def row_hash(content: dict[str, Any]) -> str:
    """SHA-256 over :func:`canonical`."""
    return hashlib.sha256(canonical(content)).hexdigest()


def lock(connection: Connection, timeout_ms: int = 0) -> None:
    """Take the chain's lock for the rest of the transaction (PostgreSQL; a no-op on SQLite).

    ``timeout_ms`` bounds the wait (``lock_timeout`` for this statement only)."""
    if connection.dialect.name != "postgresql":
        return
    if not timeout_ms:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
        return
    previous = connection.execute(text("SELECT current_setting('lock_timeout')")).scalar()
    connection.execute(text("SELECT set_config('lock_timeout', :v, true)"), {"v": f"{int(timeout_ms)}ms"})
    try:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    finally:
        if connection.in_transaction() and not connection.invalidated:
            try:
                connection.execute(text("SELECT set_config('lock_timeout', :v, true)"), {"v": previous})
            except Exception:  # the transaction is already aborted by the timeout; it rolls back anyway
                pass


def append(connection: Connection, changeset: ChangeSet, keyring: Keyring, lock_timeout_ms: int = 0) -> list[int]:
    """Insert one signed, chained audit row per changed row, in ``connection``'s transaction.

    A row caused by another of the same change set (a database cascade) names that
    row's audit id in ``caused_by``; causes are written before their effects."""
    lock(connection, lock_timeout_ms)
    previous = connection.execute(
        select(audit_events.c.row_hash).order_by(audit_events.c.id.desc()).limit(1)).scalar() or GENESIS
    ids: list[int] = []
    written: dict[int, int] = {}
    for row in changeset.rows:
        cause = getattr(row, "cause", None)
        content = {
            "occurred_at": changeset.occurred_at, "actor": changeset.actor[:200],
            "actor_role": changeset.actor_role[:20], "action": changeset.action_for(row)[:100],
            "entity_type": row.table, "entity_id": row.entity_id[:500], "changes": row.as_changes(),
            "reason": changeset.reason, "client_addr": (changeset.client_addr or None) and changeset.client_addr[:64],
            "request_id": changeset.request_id, "prev_hash": previous,
            "caused_by": written.get(id(cause)) if cause is not None else None, "key_id": keyring.current_id,
        }
        data = canonical(content)
        content["row_hash"] = previous = hashlib.sha256(data).hexdigest()
        content["mac"] = keyring.sign(data)
        new_id = connection.execute(insert(audit_events).values(**content)).inserted_primary_key[0]
        written[id(row)] = new_id
        ids.append(new_id)
    return ids


@dataclass
class Verification:
    """The outcome of :func:`verify`: rows checked, unsigned rows before signing began,
    and the first row that does not verify."""

    checked: int
    bad_id: int | None = None
    problem: str | None = None
    unsigned: int = 0
    head_id: int | None = None
    head_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return self.bad_id is None


def _rows(connection: Connection) -> Iterator[Any]:
    result = connection.execution_options(yield_per=1000).execute(select(audit_events).order_by(audit_events.c.id))
    yield from result.mappings()


def verify(connection: Connection, keyring: Keyring, checkpoints=()) -> Verification:
    """Walk the chain in id order; stop at the first row whose links, content or MAC do not
    match, or that contradicts a checkpoint (``head_id``, ``head_hash``, ``count``, ``at``:
    signed ones, already checked by :mod:`audit_hooks.checkpoints`)."""
    outcome = Verification(0)
    previous, signed_seen = GENESIS, False
    pending = sorted((c for c in checkpoints if c.head_id is not None), key=lambda c: c.head_id)
    for row in _rows(connection):
        while pending and pending[0].head_id < row["id"]:
            mark = pending.pop(0)
            outcome.bad_id, outcome.problem = row["id"], (
                f"the checkpoint of {mark.at} names row id={mark.head_id}, which is missing (rows were removed)")
            return outcome
        if row["prev_hash"] != previous:
            outcome.bad_id, outcome.problem = row["id"], (
                "its prev_hash does not match the previous row's hash (a row before it was changed, removed "
                "or inserted)")
            return outcome
        data = canonical(dict(row))
        if hashlib.sha256(data).hexdigest() != row["row_hash"]:
            outcome.bad_id, outcome.problem = row["id"], "its content does not match its row_hash (the row was changed)"
            return outcome
        if row["key_id"] or row["mac"] or signed_seen:
            problem = keyring.check(data, row["key_id"], row["mac"])
            if problem:
                outcome.bad_id, outcome.problem = row["id"], problem
                return outcome
            signed_seen = True
        else:
            outcome.unsigned += 1
        previous = row["row_hash"]
        outcome.checked += 1
        outcome.head_id, outcome.head_hash = row["id"], previous
        while pending and pending[0].head_id == row["id"]:
            mark = pending.pop(0)
            if mark.head_hash != previous or mark.count != outcome.checked:
                outcome.bad_id, outcome.problem = row["id"], (
                    f"it does not match the checkpoint of {mark.at} ({mark.count} row(s) up to this id with hash "
                    f"{mark.head_hash[:12]}...; found {outcome.checked} row(s), hash {previous[:12]}...)")
                return outcome
    if pending:
        mark = pending[-1]
        outcome.bad_id, outcome.problem = mark.head_id, (
            f"the chain ends at {outcome.checked} row(s) (last id {outcome.head_id}) but the checkpoint of "
            f"{mark.at} recorded {mark.count} row(s) up to id={mark.head_id}: the newest rows were removed")
    return outcome


def head(connection: Connection) -> tuple[int, int | None, str]:
    """(row count, id of the newest row, its row_hash) as they stand now."""
    count = connection.execute(select(func.count()).select_from(audit_events)).scalar() or 0
    newest = connection.execute(select(audit_events.c.id, audit_events.c.row_hash)
                                .order_by(audit_events.c.id.desc()).limit(1)).first()
    return (count, newest[0], newest[1]) if newest else (0, None, GENESIS)
