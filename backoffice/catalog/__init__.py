"""Catalog health: declared checks, their SQL, a runner and a shared snapshot.

:class:`CatalogHealth` is the one entry point: the web pages
(``views/catalog_health.py``) and the CLI (``backoffice catalog-health``) both
call it, so they always run the same queries and show the same figures. The whole
report is computed by one process at a time and stored (:mod:`.snapshot`); pages
read the stored report and ask for a background refresh when it is older than
``CATALOG_HEALTH_CACHE_SECONDS``.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from backoffice.catalog.cache import TTLCache
from backoffice.catalog.checks import DEFAULT_CHECKS, HealthCheck
from backoffice.catalog.validation import defaults_off, register_rules, resolve_checks
from backoffice.catalog.queries import CheckQueries
from backoffice.catalog.runner import WORKERS, CheckResult, HealthReport, SampleGroup, read_only, run_checks
from backoffice.catalog.snapshot import Snapshot, SnapshotStore, fingerprint

__all__ = ["CatalogHealth", "HealthCheck", "HealthReport", "CheckResult", "DEFAULT_CHECKS", "init_app",
           "catalog_health", "register_rules", "Snapshot"]

EXTENSION = "backoffice.catalog_health"
log = logging.getLogger(__name__)


class CatalogHealth:
    """The checks of one console, bound to its engine and settings."""

    #: How long a page waits for a refresh it started before showing what is stored.
    wait_seconds: float = 5.0

    def __init__(self, engine: Engine, reflection: Any, checks: list[HealthCheck], *, sample_limit: int = 5,
                 stale_days: int = 180, cache_seconds: float = 60, timeout_ms: int | None = None,
                 workers: int = WORKERS, job_timeout_ms: int | None = None, shared: bool = True,
                 reads: Callable[[], Engine] | None = None):
        self.engine = engine
        #: Chooses the engine of each run, page and export (a read replica when one is
        #: configured and fresh, see backoffice/replica); None: always ``engine``.
        self.reads = reads
        self.reflection = reflection
        self.checks = {check.name: check for check in checks}
        self.sample_limit = sample_limit
        self.stale_days = stale_days
        self.timeout_ms = timeout_ms or None  # per request: detail pages and their CSV
        self.job_timeout_ms = job_timeout_ms or None  # the whole report, computed in the background
        self.workers = workers
        self.cache_seconds = cache_seconds
        self.cache: TTLCache[HealthReport] = TTLCache(cache_seconds)
        self.computations = 0  # reports computed by this process (the tests read it)
        lease = max(2 * (self.job_timeout_ms or 0) / 1000, 600.0)
        self.store = SnapshotStore(engine, fingerprint(checks, sample_limit=sample_limit, stale_days=stale_days),
                                   lease_seconds=lease) if shared else None
        self._thread: threading.Thread | None = None
        self._thread_guard = threading.Lock()
        #: Built-in checks that do not fit this schema (shown as "not applicable").
        self.not_applicable: list = []

    def compute(self, names: tuple[str, ...] | None = None, engine: Engine | None = None) -> HealthReport:
        """Run the checks now, in this process, under the job's timeout (on ``engine``,
        default: where :meth:`read_engine` sends this read)."""
        self.computations += 1
        selected = names or tuple(self.checks)
        return run_checks(engine or self.read_engine(), self.reflection, [self.checks[n] for n in selected],
                          sample_limit=self.sample_limit, stale_days=self.stale_days,
                          timeout_ms=self.job_timeout_ms or self.timeout_ms, workers=self.workers)

    def report(self, names: list[str] | None = None, *, refresh: bool = False, cached: bool = True) -> HealthReport:
        """Figures for every check (or ``names``): the stored snapshot unless ``cached`` is False."""
        selected = tuple(names) if names else tuple(self.checks)
        unknown = [n for n in selected if n not in self.checks]
        if unknown:
            raise KeyError(unknown[0])
        if not cached:
            return self.compute(selected)
        if names or self.store is None:
            return self.cache.get(selected, lambda: self.compute(selected), refresh=refresh)
        if refresh:
            return self.store_fresh()[0]
        snapshot = self.current(wait=None)
        return snapshot.report if snapshot.report is not None else self.store_fresh()[0]

    # -- the shared snapshot ----------------------------------------------------------------

    def current(self, wait: float | None = None) -> Snapshot:
        """The stored report for a page: a background refresh is started when there is
        none (waiting up to ``wait`` seconds for it) or when it is older than the cache period."""
        assert self.store is not None
        try:
            snapshot = self.store.read(self.checks)
        except DBAPIError as error:  # no snapshot table (a read-only role): this process's own figures
            log.warning("catalog health: snapshots unavailable (%s); computing per process",
                        str(getattr(error, "orig", error)).strip().splitlines()[0])
            self.store = None
            report = self.report()
            return Snapshot(report, report.computed_at, None, None, True)
        if snapshot.report is None:
            if not snapshot.refreshing:
                self.refresh_in_background()
            self.join(self.wait_seconds if wait is None else wait)
            snapshot = self.store.read(self.checks)
        elif not snapshot.refreshing and (snapshot.age_seconds or 0) >= self.cache_seconds:
            self.refresh_in_background()
            snapshot.refreshing_since = dt.datetime.now(dt.timezone.utc)
            snapshot.refreshing_by = self.store.owner
        return snapshot

    def refresh_in_background(self) -> threading.Thread:
        """Start one refresh thread in this process (none when one is running already)."""
        with self._thread_guard:
            if self._thread is None or not self._thread.is_alive():
                # Chosen here, in the request: the thread cannot see who asked (a replica
                # that has not replayed the asker's own last write must not be read).
                engine = self.read_engine()
                self._thread = threading.Thread(target=self._refresh_quietly, args=(engine,),
                                                name="catalog-health-refresh", daemon=True)
                self._thread.start()
            return self._thread

    def join(self, seconds: float | None) -> bool:
        """Wait up to ``seconds`` (None: until done) for this process's refresh; True when none runs."""
        thread = self._thread
        if thread is not None:
            thread.join(seconds)
        return thread is None or not thread.is_alive()

    def _refresh_quietly(self, engine: Engine | None = None) -> None:
        try:
            self.store_fresh(wait_for_other=False, engine=engine)
        except Exception:  # a background thread has nobody to report to but the log
            log.exception("catalog health: the background refresh failed")

    def store_fresh(self, *, wait_for_other: bool = True, on_wait: Callable[[str | None], None] | None = None,
                    engine: Engine | None = None) -> tuple[HealthReport | None, bool, str | None]:
        """Compute and store a report unless another process is doing it right now.

        Returns (report, computed here, who computed it). When another process holds
        the claim, waits for its report (``wait_for_other``) instead of computing again.
        """
        assert self.store is not None
        if self.store.claim():
            try:
                report = self.compute(engine=engine)
            except BaseException:
                self.store.release()
                raise
            self.store.store(report)
            return report, True, self.store.owner
        holder = self.store.read(self.checks).refreshing_by
        if not wait_for_other:
            return None, False, holder
        if on_wait is not None:
            on_wait(holder)
        return self.store.wait_for_other(self.checks).report, False, holder

    def read_engine(self) -> Engine:
        """The engine this read should use (the replica router's choice, when there is one)."""
        return self.reads() if self.reads is not None else self.engine

    def latest(self, names: list[str] | None = None) -> HealthReport | None:
        """The last report stored (or computed here, without a snapshot table), never computing one."""
        if self.store is not None and not names:
            try:
                return self.store.read(self.checks).report
            except DBAPIError:
                pass
        return self.cache.peek(tuple(names) if names else tuple(self.checks))

    def queries(self, name: str) -> CheckQueries:
        return CheckQueries(self.checks[name], self.reflection, stale_days=self.stale_days)

    def page(self, name: str, page: int, per_page: int) -> list:
        """One page of affected rows (for duplicates: of groups, each with its rows)."""
        q = self.queries(name)
        offset = max(page - 1, 0) * per_page
        timeout = self.checks[name].timeout_ms or self.timeout_ms
        with read_only(self.read_engine(), timeout) as conn:
            if q.check.kind != "duplicates":
                return [row._mapping for row in conn.execute(q.rows(offset=offset, limit=per_page))]
            width = len(q.keys)
            groups = [SampleGroup(key=tuple(r[:width]), size=int(r.n))
                      for r in conn.execute(q.group_page(offset, per_page))]
            if groups:
                by_key = {g.key: g for g in groups}
                for member in conn.execute(q.members([g.key for g in groups])):
                    by_key[tuple(member[-width:])].members.append(member._mapping)
            return groups

    def export(self, name: str) -> Iterator[tuple]:
        """The header, then every affected row, streamed from one read-only transaction."""
        q = self.queries(name)
        timeout = self.checks[name].timeout_ms or self.timeout_ms
        with read_only(self.read_engine(), timeout) as conn:
            result = conn.execution_options(stream_results=True, yield_per=2000).execute(q.export())
            yield tuple(result.keys())
            for row in result:
                yield tuple(row)


def init_app(app: Flask, engine: Engine, reflection: Any, declarations: Any, settings: Any,
             reads: Callable[[], Engine] | None = None) -> CatalogHealth:
    """Resolve the declared checks (validated at start-up already) and attach the service."""
    checks, _problems = resolve_checks(declarations, reflection)
    service = CatalogHealth(engine, reflection, checks, sample_limit=settings.catalog_health_sample_limit,
                            stale_days=settings.catalog_health_stale_days,
                            cache_seconds=settings.catalog_health_cache_seconds,
                            timeout_ms=settings.statement_timeout_ms,
                            job_timeout_ms=settings.catalog_health_timeout_ms, reads=reads)
    service.not_applicable = defaults_off(declarations, reflection)
    app.extensions[EXTENSION] = service
    return service


def catalog_health(app: Flask) -> CatalogHealth:
    return app.extensions[EXTENSION]
