"""Catalog health: declared checks, their SQL, a runner and a cache.

:class:`CatalogHealth` is the one entry point: the web pages
(``views/catalog_health.py``) and the CLI (``backoffice catalog-health``) both
call it, so they always run the same queries and show the same figures.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask
from sqlalchemy import Engine

from backoffice.catalog.cache import TTLCache
from backoffice.catalog.checks import DEFAULT_CHECKS, HealthCheck
from backoffice.catalog.validation import defaults_off, register_rules, resolve_checks
from backoffice.catalog.queries import CheckQueries
from backoffice.catalog.runner import WORKERS, CheckResult, HealthReport, SampleGroup, read_only, run_checks

__all__ = ["CatalogHealth", "HealthCheck", "HealthReport", "CheckResult", "DEFAULT_CHECKS", "init_app",
           "catalog_health", "register_rules"]

EXTENSION = "backoffice.catalog_health"


class CatalogHealth:
    """The checks of one console, bound to its engine and settings."""

    def __init__(self, engine: Engine, reflection: Any, checks: list[HealthCheck], *, sample_limit: int = 5,
                 stale_days: int = 180, cache_seconds: float = 60, timeout_ms: int | None = None,
                 workers: int = WORKERS):
        self.engine = engine
        self.reflection = reflection
        self.checks = {check.name: check for check in checks}
        self.sample_limit = sample_limit
        self.stale_days = stale_days
        self.timeout_ms = timeout_ms or None
        self.workers = workers
        self.cache: TTLCache[HealthReport] = TTLCache(cache_seconds)
        #: Built-in checks that do not fit this schema (shown as "not applicable").
        self.not_applicable: list = []

    def report(self, names: list[str] | None = None, *, refresh: bool = False, cached: bool = True) -> HealthReport:
        """Figures for every check (or ``names``), from the cache when fresh enough."""
        selected = tuple(names) if names else tuple(self.checks)
        unknown = [n for n in selected if n not in self.checks]
        if unknown:
            raise KeyError(unknown[0])

        def compute() -> HealthReport:
            return run_checks(self.engine, self.reflection, [self.checks[n] for n in selected],
                              sample_limit=self.sample_limit, stale_days=self.stale_days, timeout_ms=self.timeout_ms,
                              workers=self.workers)

        return self.cache.get(selected, compute, refresh=refresh) if cached else compute()

    def queries(self, name: str) -> CheckQueries:
        return CheckQueries(self.checks[name], self.reflection, stale_days=self.stale_days)

    def page(self, name: str, page: int, per_page: int) -> list:
        """One page of affected rows (for duplicates: of groups, each with its rows)."""
        q = self.queries(name)
        offset = max(page - 1, 0) * per_page
        timeout = self.checks[name].timeout_ms or self.timeout_ms
        with read_only(self.engine, timeout) as conn:
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
        with read_only(self.engine, timeout) as conn:
            result = conn.execution_options(stream_results=True, yield_per=2000).execute(q.export())
            yield tuple(result.keys())
            for row in result:
                yield tuple(row)


def init_app(app: Flask, engine: Engine, reflection: Any, declarations: Any, settings: Any) -> CatalogHealth:
    """Resolve the declared checks (validated at start-up already) and attach the service."""
    checks, _problems = resolve_checks(declarations, reflection)
    service = CatalogHealth(engine, reflection, checks, sample_limit=settings.catalog_health_sample_limit,
                            stale_days=settings.catalog_health_stale_days,
                            cache_seconds=settings.catalog_health_cache_seconds,
                            timeout_ms=settings.statement_timeout_ms)
    service.not_applicable = defaults_off(declarations, reflection)
    app.extensions[EXTENSION] = service
    return service


def catalog_health(app: Flask) -> CatalogHealth:
    return app.extensions[EXTENSION]
