"""``GET /metrics``: the Prometheus text format, for the holder of the bearer token only.

Without ``BACKOFFICE_METRICS_TOKEN`` the route does not exist (the URL answers like
any missing page). With it, a request without the right ``Authorization: Bearer``
token gets the console's 404 page; operator credentials never open it, and the auth
guard lets the route through to this check instead of asking for them.

Figures that need the database are read at scrape time from what is already there:
queue sizes are one grouped count per queue on the read router's engine (the replica
when fresh), and catalog-health figures come from the last stored report, never
computed for a scrape.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine, func, select

__all__ = ["ENDPOINT", "EXTENSION", "ScrapeFigures", "Scraper", "blueprint"]

log = logging.getLogger(__name__)

ENDPOINT = "metrics.scrape"
EXTENSION = "backoffice.metrics"
#: A scrape must never hold a worker for long: each count gives up after this.
SCRAPE_QUERY_TIMEOUT_MS = 2000

blueprint = Blueprint("metrics", __name__)


class ScrapeFigures:
    """Gauges computed at scrape time from stored data (a prometheus_client collector)."""

    def __init__(self, queues: list[tuple[str, Any, str]], reads: Callable[[], Engine],
                 latest_health: Callable[[], Any] | None):
        self.queues = queues  # (queue name, Table, status column name)
        self.reads = reads
        self.latest_health = latest_health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sizes = GaugeMetricFamily("backoffice_queue_rows", "Rows of each review queue by state",
                                  labels=["queue", "state"])
        failures = GaugeMetricFamily("backoffice_scrape_failures", "Parts of this scrape that could not be read",
                                     labels=["part"])
        failed_queues = 0
        for name, table, status in self.queues:
            try:
                for state, count in self._count(table, status):
                    sizes.add_metric([name, str(state)], count)
            except Exception as exc:  # a slow or absent database must not fail the whole scrape
                failed_queues += 1
                log.warning("metrics: counting queue %s failed: %s", name, type(exc).__name__)
        failures.add_metric(["queues"], failed_queues)
        yield sizes
        yield from self._health()
        yield failures

    def _count(self, table, status: str) -> list[tuple[Any, int]]:
        from backoffice.catalog.runner import read_only

        column = table.c[status]
        with read_only(self.reads(), SCRAPE_QUERY_TIMEOUT_MS) as conn:
            return [(row[0], int(row[1])) for row in
                    conn.execute(select(column, func.count()).group_by(column).order_by(column))]

    def _health(self) -> Iterator[GaugeMetricFamily]:
        report = self.latest_health() if self.latest_health is not None else None
        affected = GaugeMetricFamily("backoffice_catalog_health_affected_rows",
                                     "Rows (or duplicate groups' rows) each catalog-health check found",
                                     labels=["check", "kind"])
        total = GaugeMetricFamily("backoffice_catalog_health_checked_rows", "Rows each check looked at",
                                  labels=["check"])
        finished = GaugeMetricFamily("backoffice_catalog_health_check_ok",
                                     "1 when the check finished in the last report, 0 when it timed out or failed",
                                     labels=["check"])
        computed = GaugeMetricFamily("backoffice_catalog_health_computed_timestamp_seconds",
                                     "When the last stored report was computed (Unix time)")
        if report is not None:
            for result in report.results:
                name = result.check.name
                finished.add_metric([name], 0 if result.status in ("timed out", "failed") else 1)
                if result.count is not None:
                    affected.add_metric([name, result.check.kind], result.count)
                if result.total is not None:
                    total.add_metric([name], result.total)
            computed.add_metric([], report.computed_at.timestamp())
        yield from (affected, total, finished, computed)


class Scraper:
    """Renders one scrape: the process's (or every worker's) values and the scrape figures."""

    def __init__(self, token: str, registry: CollectorRegistry, multiprocess_dir: str | None,
                 figures: ScrapeFigures):
        self._token_digest = hashlib.sha256(token.encode()).digest()
        self.registry = registry
        self.multiprocess_dir = multiprocess_dir
        self.figures = figures
        if multiprocess_dir is None:
            registry.register(figures)

    def allows(self) -> bool:
        """True when the request carries the bearer token (compared in constant time)."""
        auth = request.authorization
        offered = auth.token if auth is not None and auth.type == "bearer" and auth.token else ""
        return hmac.compare_digest(hashlib.sha256(offered.encode()).digest(), self._token_digest)

    def render(self) -> bytes:
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)
        registry.register(self.figures)
        return generate_latest(registry)


@blueprint.get("/metrics")
def scrape():
    scraper: Scraper | None = current_app.extensions.get(EXTENSION + ".scraper")
    if scraper is None or not scraper.allows():
        abort(404)
    return Response(scraper.render(), headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})
