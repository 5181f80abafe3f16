"""Run checks: read-only transactions, statement timeouts, shared scans, concurrency.

Work is cut into *units*, each run on its own connection in its own read-only
transaction with its own timeout:

- one pass per table for its row count and every missing / stale check on it
  (``COUNT(*) FILTER (WHERE ...)`` per check: one scan instead of six);
- one unit per duplicates check (group totals and sample groups in one query,
  thanks to window functions over the groups);
- one unit per coverage check (an anti-join PostgreSQL answers from an index).

On PostgreSQL the units run concurrently on separate pooled connections (a thread
pool); SQLite runs them one after the other. A unit that hits its timeout marks
its checks "timed out"; the other units are unaffected.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, exc, func, select

from backoffice.catalog.checks import HealthCheck
from backoffice.catalog.queries import CheckQueries, combined_counts

__all__ = ["CheckResult", "HealthReport", "Sample", "SampleGroup", "run_checks", "read_only", "is_timeout"]

log = logging.getLogger(__name__)
#: Concurrent units on PostgreSQL (each holds one pooled connection while it runs).
WORKERS = 4
#: Planner settings for the checks' transactions (SET LOCAL: gone at rollback).
#: JIT compiles each of these short scans for tens of milliseconds and gains nothing.
#: Parallel workers are off because the units already run concurrently: on a small
#: machine extra workers only compete for the same cores (measured: 30% slower).
PG_SETTINGS: dict[str, str] = {"jit": "off", "max_parallel_workers_per_gather": "0"}


@dataclass
class Sample:
    """One affected row: its primary key values and its label (title)."""

    pk: tuple
    label: str | None

    def as_dict(self) -> dict:
        return {"id": self.pk[0] if len(self.pk) == 1 else list(self.pk), "label": self.label}


@dataclass
class SampleGroup:
    """One duplicate group: the shared key, its size and its rows."""

    key: tuple
    size: int
    members: list[Sample] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"key": [_plain(v) for v in self.key], "size": self.size,
                "members": [m.as_dict() for m in self.members]}


@dataclass
class CheckResult:
    """The outcome of one check. ``status``: ok | timed out | failed | not applicable."""

    check: HealthCheck
    status: str = "ok"
    count: int | None = None
    total: int | None = None
    groups: int | None = None
    samples: list[Sample] = field(default_factory=list)
    sample_groups: list[SampleGroup] = field(default_factory=list)
    message: str | None = None
    seconds: float = 0.0
    covered: int | None = field(default=None, repr=False)  # coverage: rows that do have related rows

    @property
    def share(self) -> float | None:
        if self.count is None or not self.total:
            return None if self.count is None or self.total is None else 0.0
        return self.count / self.total

    def as_dict(self) -> dict:
        data = {"name": self.check.name, "label": self.check.title, "kind": self.check.kind,
                "table": self.check.table, "status": self.status, "count": self.count, "total": self.total,
                "share": None if self.share is None else round(self.share, 6)}
        if self.check.kind == "duplicates":
            data["groups"] = self.groups
            data["samples"] = [g.as_dict() for g in self.sample_groups]
        else:
            data["samples"] = [s.as_dict() for s in self.samples]
        if self.message:
            data["message"] = self.message
        data["seconds"] = round(self.seconds, 4)
        return data


@dataclass
class HealthReport:
    """Every result of one run, in declaration order, and when it was computed."""

    results: list[CheckResult]
    computed_at: dt.datetime
    seconds: float

    def get(self, name: str) -> CheckResult | None:
        return next((r for r in self.results if r.check.name == name), None)

    def as_dict(self) -> dict:
        return {"computed_at": self.computed_at.isoformat(timespec="seconds"), "seconds": round(self.seconds, 4),
                "checks": {r.check.name: r.as_dict() for r in self.results}}


def is_timeout(error: BaseException) -> bool:
    """PostgreSQL's query_canceled (57014) or SQLite's interrupt from our progress handler."""
    orig = getattr(error, "orig", error)
    return getattr(orig, "pgcode", None) == "57014" or "interrupted" in str(orig)


@contextmanager
def read_only(engine: Engine, timeout_ms: int | None) -> Iterator[Connection]:
    """A connection in a read-only transaction with a statement timeout, rolled back after.

    PostgreSQL: ``SET TRANSACTION READ ONLY`` and ``SET LOCAL statement_timeout``.
    SQLite: ``PRAGMA query_only`` and a progress handler that interrupts the statement.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms or 0)}")
            for name, value in PG_SETTINGS.items():
                conn.exec_driver_sql(f"SET LOCAL {name} = {value}")
            try:
                yield conn
            finally:
                conn.rollback()
            return
        raw = conn.connection.dbapi_connection
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA query_only = ON")
            if timeout_ms:
                deadline = time.monotonic() + timeout_ms / 1000
                raw.set_progress_handler(lambda: time.monotonic() > deadline, 2000)
        try:
            yield conn
        finally:
            conn.rollback()
            if sqlite:
                try:
                    raw.set_progress_handler(None, 0)
                    conn.exec_driver_sql("PRAGMA query_only = OFF")
                    conn.rollback()
                except exc.DBAPIError:  # never hand a read-only connection back to the pool
                    conn.invalidate()


def run_checks(engine: Engine, reflection: Any, checks: list[HealthCheck], *, sample_limit: int, stale_days: int,
               timeout_ms: int | None, workers: int = WORKERS) -> HealthReport:
    """Compute ``checks`` and return the report (never raises for a failing check)."""
    started = time.monotonic()
    now = dt.datetime.now(dt.timezone.utc)
    results = {c.name: CheckResult(check=c) for c in checks}
    queries = {c.name: CheckQueries(c, reflection, stale_days=stale_days, now=now) for c in checks}
    totals: dict[str, int | None] = {}
    units: list[tuple[list[str], int | None, Callable[[Connection], None]]] = []

    scans: dict[str, list[str]] = {}
    for check in checks:
        q = queries[check.name]
        if check.kind == "duplicates" and (reason := q.unique_reason()):
            results[check.name].status, results[check.name].count = "not applicable", 0
            results[check.name].groups, results[check.name].message = 0, reason
        elif check.kind in ("missing", "stale") and check.timeout_ms is None:
            scans.setdefault(check.table, []).append(check.name)
        else:
            units.append(([check.name], check.timeout_ms or timeout_ms,
                          _single_unit(results[check.name], q, sample_limit)))
    for table_name in dict.fromkeys(c.table for c in checks):
        names = scans.get(table_name, [])
        # A table whose checks declare shorter timeouts gets its row count under the shortest.
        limits = [c.timeout_ms for c in checks if c.table == table_name and c.timeout_ms] + [timeout_ms or 0]
        table_timeout = min(t for t in limits if t) if any(limits) else None
        units.append((names, table_timeout, _scan_unit(table_name, reflection.tables[table_name].table,
                                                   [results[n] for n in names], [queries[n] for n in names],
                                                   totals, sample_limit)))

    def run(unit, own_connection: bool = False) -> None:
        names, unit_timeout, work = unit
        unit_started = time.monotonic()
        try:
            with read_only(engine, unit_timeout) as conn:
                if own_connection:
                    # Closed when the unit ends instead of joining the pool: the pool would keep
                    # one idle connection per thread, with the libpq buffers the thread sized to
                    # its results, in every worker that ever computed the checks.
                    conn.connection.detach()
                work(conn)
        except Exception as error:  # one broken check must not take the page (or the other checks) down
            status = "timed out" if isinstance(error, exc.DBAPIError) and is_timeout(error) else "failed"
            message = f"timed out after {unit_timeout} ms" if status == "timed out" \
                else (str(getattr(error, "orig", error)).strip().splitlines() or [type(error).__name__])[0]
            log.warning("catalog health: %s %s: %s", ", ".join(names) or "row count", status, message,
                        exc_info=not isinstance(error, exc.DBAPIError))
            for name in names:
                results[name].status, results[name].message = status, message
                results[name].count = None
        for name in names:
            results[name].seconds = time.monotonic() - unit_started

    if engine.dialect.name == "postgresql" and workers > 1 and len(units) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(units)), thread_name_prefix="catalog-health") as pool:
            list(pool.map(lambda unit: run(unit, own_connection=True), units))
    else:
        for unit in units:
            run(unit)
    for result in results.values():
        result.total = totals.get(result.check.table)
        if result.covered is not None and result.status == "ok":
            result.count = None if result.total is None else result.total - result.covered
        if result.status == "ok" and result.count is None:  # its figure needed the table's row count
            result.status, result.message = "failed", f"the row count of '{result.check.table}' did not complete"
    return HealthReport(results=[results[c.name] for c in checks], computed_at=now,
                        seconds=time.monotonic() - started)


def _scan_unit(table_name, table, results: list[CheckResult], queries: list[CheckQueries], totals, sample_limit):
    def work(conn: Connection) -> None:
        row = conn.execute(combined_counts(table, queries) if queries
                           else select(func.count().label("total")).select_from(table)).one()
        totals[table_name] = row[0]
        for index, (result, q) in enumerate(zip(results, queries)):
            result.count = row[index + 1]
            if result.count and sample_limit:
                result.samples = _samples(conn, q, q.rows(limit=sample_limit))
    return work


def _single_unit(result: CheckResult, q: CheckQueries, sample_limit: int):
    def work(conn: Connection) -> None:
        if q.check.kind == "duplicates":
            rows = conn.execute(q.group_summary(sample_limit)).all()
            width = len(q.keys)
            result.groups = int(rows[0].all_groups) if rows else 0
            result.count = int(rows[0].all_rows) if rows else 0
            groups = [SampleGroup(key=tuple(r[:width]), size=int(r.n)) for r in rows[:sample_limit]]
            if groups:
                members = conn.execute(q.members([g.key for g in groups])).all()
                by_key = {g.key: g for g in groups}
                for member in members:
                    group = by_key.get(tuple(member[-width:]))
                    if group is not None:
                        group.members.append(_sample(q, member))
            result.sample_groups = groups
            return
        covered = q.covered_count() if conn.dialect.name == "postgresql" else None
        if covered is not None:
            # rows without = all rows - distinct referencing keys; the table's total comes
            # from its own unit (see run_checks), so no second scan of the table here.
            result.covered = conn.execute(covered).scalar()
        else:
            result.count = conn.execute(q.count()).scalar()
        if (result.count or result.covered is not None) and sample_limit:
            result.samples = _samples(conn, q, q.rows(limit=sample_limit))
    return work


def _samples(conn: Connection, q: CheckQueries, statement) -> list[Sample]:
    return [_sample(q, row) for row in conn.execute(statement)]


def _sample(q: CheckQueries, row) -> Sample:
    mapping = row._mapping
    label_column = q.label_column
    label = mapping.get(label_column.name) if label_column is not None else None
    return Sample(pk=tuple(mapping[c.name] for c in q.pk), label=None if label is None else str(label))


def _plain(value: Any) -> Any:
    """JSON-friendly key values (PostgreSQL's EXTRACT gives Decimal)."""
    if hasattr(value, "is_integer") and not isinstance(value, float):
        return int(value) if value == int(value) else float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
