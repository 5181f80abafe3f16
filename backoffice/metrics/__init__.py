"""Prometheus metrics: ``/metrics`` for the holder of ``BACKOFFICE_METRICS_TOKEN``.

What is counted, and where each figure comes from:

* requests and their latency per screen kind and status: an ``after_request`` hook;
* failed sign-ins (401 to a request with credentials, as the limit counts them) and
  requests refused by the lockout (429): the same hook;
* database errors and timeouts: the engines' ``handle_error`` event;
* audit rows written and review decisions per action:
  :meth:`ConsoleMetrics.count_committed`, which the composition root registers as an
  ``audit_committed`` hook of the audit pipeline, so only committed work counts;
* replica routing: the read router's listener;
* queue sizes per state and catalog-health figures: gauges read at scrape time from
  stored data (see :mod:`backoffice.metrics.endpoint`).

Under gunicorn, ``console.gunicorn_conf`` gives each server a directory for the
library's multi-process mode, so a scrape adds up every worker of the instance.
Scrape each instance (not the load balancer): Prometheus sums the instances.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from sqlalchemy import Engine, event

from backoffice.core.settings import Settings
from backoffice.metrics.endpoint import ENDPOINT, EXTENSION, ScrapeFigures, Scraper, blueprint
from backoffice.metrics.registry import ConsoleMetrics, screen_kind

__all__ = ["init_app", "ConsoleMetrics", "screen_kind", "ENDPOINT", "console_metrics"]


def _error_kind(context) -> str:
    orig = context.original_exception
    if getattr(orig, "pgcode", None) == "57014" or "interrupted" in str(orig):
        return "timeout"
    return "disconnect" if context.is_disconnect else "other"


def _count_errors(engine: Engine, metrics: ConsoleMetrics, database: str) -> None:
    def handle_error(context) -> None:
        if getattr(context, "is_pre_ping", False):
            return  # a stale pooled connection found and replaced: nothing failed
        metrics.database_errors.labels(database, _error_kind(context)).inc()

    event.listen(engine, "handle_error", handle_error)


def init_app(app: Flask, settings: Settings, engine: Engine, *, router: Any = None,
             queues: list[tuple[str, Any, str]] = (), latest_health=None) -> ConsoleMetrics:
    """Count this console's work; serve ``/metrics`` when a token is set.

    ``router`` is the read router,
    ``queues`` (name, table, status column) per review queue, ``latest_health`` a
    callable returning the last stored catalog-health report (or None).
    """
    if settings.prometheus_multiproc_dir:  # named by gunicorn_conf, made here, before any value file
        Path(settings.prometheus_multiproc_dir).mkdir(parents=True, exist_ok=True)
    metrics = ConsoleMetrics()
    app.extensions[EXTENSION] = metrics

    @app.after_request
    def _count_request(response):
        started = g.get("request_started")  # set first thing by the request log
        seconds = time.perf_counter() - started if started is not None else None
        status = response.status_code
        metrics.observe_request(screen_kind(request.endpoint), status, seconds)
        if status == 401 and request.authorization is not None:
            metrics.sign_in_failures.inc()
        elif status == 429:
            metrics.lockouts.inc()
        return response

    _count_errors(engine, metrics, "primary")
    reads = (lambda: engine)
    if router is not None and router.replica is not None:
        router.listeners.append(lambda route: metrics.replica_reads.labels(route.target, route.reason).inc())
        reads = router.engine_for_reads
        _count_errors(router.replica, metrics, "replica")
    if settings.backoffice_metrics_token:
        figures = ScrapeFigures(list(queues), reads, latest_health)
        app.extensions[EXTENSION + ".scraper"] = Scraper(settings.backoffice_metrics_token, metrics.registry,
                                                         settings.prometheus_multiproc_dir, figures)
        app.register_blueprint(blueprint)
    return metrics


def console_metrics(app: Flask) -> ConsoleMetrics | None:
    return app.extensions.get(EXTENSION)
