"""Health reports computed once, stored, and read by every worker and instance.

A fresh report costs a full pass over the catalog (seconds at a million movies).
Computed per worker, every worker and every instance paid it again, under the
request's statement timeout. Instead one process at a time computes it, under the
job's own timeout, and stores it in ``backoffice_health_snapshots``; every page
view reads that row (one primary-key lookup).

Who computes is decided by the database: the *claim* is a conditional UPDATE of the
snapshot row (``refreshing_since`` empty or older than the lease), which PostgreSQL
(row lock) and SQLite (write lock) both make atomic, so of two processes asking at
once exactly one wins; the other waits for its result or serves the stored one. A
process that dies while holding the claim blocks nobody for longer than the lease.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from backoffice.catalog.checks import HealthCheck
from backoffice.catalog.runner import CheckResult, HealthReport, Sample, SampleGroup
from models.own import HEALTH_HISTORY_KEEP, health_history, health_snapshots

__all__ = ["Snapshot", "SnapshotStore", "fingerprint", "report_from_dict", "process_name", "read_history"]

log = logging.getLogger(__name__)

#: The snapshot row of the whole catalog-health report.
REPORT_NAME = "catalog-health"


def process_name() -> str:
    """Who holds a claim, as the page shows it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones.
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def fingerprint(checks: list[HealthCheck], **options: Any) -> str:
    """A digest of what produces the figures: a changed declaration invalidates the snapshot."""
    text = json.dumps([repr(c) for c in checks] + [f"{k}={options[k]!r}" for k in sorted(options)])
    return hashlib.sha256(text.encode()).hexdigest()


def report_from_dict(data: dict, checks: dict[str, HealthCheck]) -> HealthReport:
    """Rebuild a report stored with :meth:`HealthReport.as_dict` (checks no longer declared are left out)."""
    results = []
    for name, entry in data["checks"].items():
        check = checks.get(name)
        if check is None:
            continue
        result = CheckResult(check=check, status=entry["status"], count=entry.get("count"),
                             total=entry.get("total"), groups=entry.get("groups"), message=entry.get("message"),
                             seconds=entry.get("seconds", 0.0))
        if check.kind == "duplicates":
            result.sample_groups = [
                SampleGroup(key=tuple(g["key"]), size=g["size"], members=[_sample(m) for m in g["members"]])
                for g in entry.get("samples", [])]
        else:
            result.samples = [_sample(s) for s in entry.get("samples", [])]
        results.append(result)
    return HealthReport(results=results, computed_at=dt.datetime.fromisoformat(data["computed_at"]),
                        seconds=data["seconds"])


def _stored(report: HealthReport) -> dict:
    data = report.as_dict()
    data["computed_at"] = report.computed_at.isoformat()  # to the microsecond: two refreshes differ
    data["seconds"] = report.seconds
    return data


def _sample(entry: dict) -> Sample:
    ident = entry["id"]
    return Sample(pk=tuple(ident) if isinstance(ident, list) else (ident,), label=entry.get("label"))


@dataclass
class Snapshot:
    """The stored report (None before the first one) and the state of its refresh."""

    report: HealthReport | None
    computed_at: dt.datetime | None
    refreshing_since: dt.datetime | None
    refreshing_by: str | None
    current: bool  # produced by the checks this console declares

    @property
    def age_seconds(self) -> float | None:
        if self.computed_at is None:
            return None
        return (dt.datetime.now(dt.timezone.utc) - self.computed_at).total_seconds()

    @property
    def refreshing(self) -> bool:
        return self.refreshing_since is not None


class SnapshotStore:
    """Reads, claims and writes one snapshot row on ``engine`` (the console's database)."""

    def __init__(self, engine: Engine, fingerprint: str, *, lease_seconds: float, name: str = REPORT_NAME):
        self.engine = engine
        self.fingerprint = fingerprint
        self.lease_seconds = lease_seconds
        self.name = name
        self.owner = process_name()

    def read(self, checks: dict[str, HealthCheck]) -> Snapshot:
        t = health_snapshots
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.name == self.name)).mappings().first()
        if row is None:
            return Snapshot(None, None, None, None, False)
        since = _utc(row["refreshing_since"])
        if since is not None and self._expired(since):
            since = None  # the claim of a process that died: nobody is refreshing
        current = row["fingerprint"] == self.fingerprint and row["report"] is not None
        report = report_from_dict(json.loads(row["report"]), checks) if current else None
        return Snapshot(report, _utc(row["computed_at"]) if current else None, since,
                        row["refreshing_by"] if since else None, current)

    def _expired(self, since: dt.datetime) -> bool:
        return (dt.datetime.now(dt.timezone.utc) - since).total_seconds() > self.lease_seconds

    def claim(self) -> bool:
        """Take the refresh claim; False when another process holds a live one."""
        t = health_snapshots
        now = dt.datetime.now(dt.timezone.utc)
        expired = now - dt.timedelta(seconds=self.lease_seconds)
        with self.engine.connect() as conn:
            missing = conn.execute(select(t.c.name).where(t.c.name == self.name)).first() is None
        if missing:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(t).values(name=self.name))
            except IntegrityError:  # another process created the row meanwhile: claim it below
                pass
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(t).where(t.c.name == self.name,
                                (t.c.refreshing_since.is_(None)) | (t.c.refreshing_since < expired))
                .values(refreshing_since=now, refreshing_by=self.owner[:200]))
            return taken.rowcount == 1

    def store(self, report: HealthReport) -> None:
        """Write the report and give the claim back (one transaction)."""
        t = health_snapshots
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.name == self.name).values(
                fingerprint=self.fingerprint, computed_at=report.computed_at, seconds=report.seconds,
                report=json.dumps(_stored(report), default=str), refreshing_since=None, refreshing_by=None))
        self._remember(report)

    def _remember(self, report: HealthReport) -> None:
        """Append the report's figures to the history (the dashboard's trend), keeping the last
        :data:`HEALTH_HISTORY_KEEP`. A separate transaction: a console whose role cannot write the
        history still stores its report (the trend then says so by staying short)."""
        figures = {r.check.name: r.count for r in report.results}
        t = health_history
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(insert(t).values(name=self.name, computed_at=report.computed_at,
                                                       figures=json.dumps(figures))).inserted_primary_key[0]
                conn.execute(delete(t).where(t.c.name == self.name, t.c.id <= new_id - HEALTH_HISTORY_KEEP))
        except DBAPIError as error:
            log.warning("catalog health: the report's figures were not added to the history (%s)",
                        str(getattr(error, "orig", error)).strip().splitlines()[0])

    def release(self) -> None:
        """Give the claim back without a report (the computation failed)."""
        t = health_snapshots
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.name == self.name, t.c.refreshing_by == self.owner[:200])
                         .values(refreshing_since=None, refreshing_by=None))

    def wait_for_other(self, checks: dict[str, HealthCheck], *, poll_seconds: float = 0.2) -> Snapshot:
        """Block until no live claim is held (the other process stored its report or died)."""
        while True:
            snapshot = self.read(checks)
            if not snapshot.refreshing:
                return snapshot
            time.sleep(poll_seconds)


def read_history(engine: Engine, name: str = REPORT_NAME, limit: int = HEALTH_HISTORY_KEEP) -> list[tuple[dt.datetime, dict]]:
    """The last ``limit`` stored figures of report ``name``, oldest first (one indexed read)."""
    t = health_history
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.computed_at, t.c.figures).where(t.c.name == name)
                            .order_by(t.c.id.desc()).limit(limit)).all()
    return [(_utc(at), json.loads(figures)) for at, figures in reversed(rows)]
