"""Signed checkpoints of the audit chain, kept outside the audit table.

A checkpoint is the chain's row count, newest id and newest ``row_hash`` at one
moment, signed with the audit signing key. It is appended as one JSON line to the
checkpoint file (``AUDIT_CHECKPOINT_FILE``, default ``instance/audit-checkpoints.jsonl``)
and written to the log (logger ``audit_hooks.checkpoints``), every
``AUDIT_CHECKPOINT_EVERY`` audit rows and on demand (``backoffice audit-checkpoint``).
``backoffice audit-verify`` then refuses a chain that is shorter than a checkpoint,
or whose row at a checkpoint's id differs: removing the newest rows is caught up to
the last checkpoint. Rows written after the last checkpoint can still be removed
unseen: that is what the interval bounds.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine

from backoffice.core.engine import instance_path
from backoffice.core.settings import Settings

from audit_hooks.chain import head, lock
from audit_hooks.hookspecs import hookimpl
from audit_hooks.signing import Keyring

__all__ = ["Checkpoint", "checkpoint_path", "take", "read", "Checkpointer", "CHECKPOINT_FILE"]

log = logging.getLogger(__name__)

#: Default file name, in the instance folder.
CHECKPOINT_FILE = "audit-checkpoints.jsonl"


@dataclass(frozen=True)
class Checkpoint:
    """The chain's size and head at ``at``, signed."""

    count: int
    head_id: int | None
    head_hash: str
    at: str
    key_id: str = ""
    mac: str = ""

    def payload(self) -> bytes:
        data = {"count": self.count, "head_id": self.head_id, "head_hash": self.head_hash, "at": self.at,
                "key_id": self.key_id}
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_path(settings: Settings) -> Path:
    return Path(settings.audit_checkpoint_file) if settings.audit_checkpoint_file else instance_path() / CHECKPOINT_FILE


def take(connection: Connection, keyring: Keyring, path: Path) -> Checkpoint:
    """Read the chain's head (under the chain's lock, so no append is half-way) and record it."""
    lock(connection)
    count, head_id, head_hash = head(connection)
    at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    unsigned = Checkpoint(count, head_id, head_hash, at, keyring.current_id)
    mark = Checkpoint(**{**asdict(unsigned), "mac": keyring.sign(unsigned.payload())})
    line = json.dumps(asdict(mark), sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as handle:  # one write per line: appends from several workers do not interleave
        handle.write(line + "\n")
    log.info("audit checkpoint %s", line)
    return mark


def read(path: Path, keyring: Keyring) -> tuple[list[Checkpoint], list[str]]:
    """Checkpoints of ``path`` whose MAC verifies, and a sentence per line that does not."""
    found, problems = [], []
    if not path.exists():
        return found, problems
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            mark = Checkpoint(**json.loads(line))
        except (ValueError, TypeError) as exc:
            problems.append(f"{path}:{number}: not a checkpoint ({exc})")
            continue
        why = keyring.check(mark.payload(), mark.key_id, mark.mac)
        if why:
            problems.append(f"{path}:{number}: checkpoint refused: {why}")
        else:
            found.append(mark)
    return found, problems


class Checkpointer:
    """An ``audit_committed`` hook: a checkpoint each time the chain passes a multiple of ``every`` ids."""

    def __init__(self, engine: Engine, keyring: Keyring, path: Path, every: int):
        self.engine, self.keyring, self.path, self.every = engine, keyring, path, every

    @hookimpl
    def audit_committed(self, changeset):
        ids = changeset.audit_ids
        if not self.every or not ids or max(ids) // self.every == (min(ids) - 1) // self.every:
            return
        with self.engine.begin() as connection:
            take(connection, self.keyring, self.path)
