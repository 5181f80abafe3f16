"""The console's Prometheus metrics, and how a request is counted.

Every label has a small, fixed set of values (a screen *kind*, never a table name or
a URL), so a console with 500 tables exposes as many series as one with 5.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["ConsoleMetrics", "screen_kind", "LATENCY_BUCKETS"]

#: Seconds; operator pages answer in tens of milliseconds, exports and health runs take seconds.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: Flask-Admin's model-view endpoints and the kind of screen each serves.
_MODEL_VIEW_KINDS = {
    "index_view": "list", "details_view": "details", "edit_view": "edit", "create_view": "create",
    "delete_view": "delete", "action_view": "action", "ajax_update": "inline_edit", "export": "export",
    "ajax_lookup": "lookup",
}
_BLUEPRINT_KINDS = {"health": "health", "metrics": "metrics", "admin": "dashboard", "audit": "audit",
                    "catalog_health": "catalog_health", "schema_report": "schema_report"}


def screen_kind(endpoint: str | None) -> str:
    """The kind of screen an endpoint serves: ``list``, ``edit``, ``review_queue``, ..."""
    if not endpoint:
        return "unmatched"  # unknown URLs and requests refused before routing
    blueprint, _, name = endpoint.rpartition(".")
    if name == "static":
        return "static"
    if blueprint.startswith("queue_"):
        return "review_queue"
    if blueprint in _BLUEPRINT_KINDS:
        kind = _BLUEPRINT_KINDS[blueprint]
        return f"{kind}_export" if name == "export" and kind != "dashboard" else kind
    return _MODEL_VIEW_KINDS.get(name, "other")


class ConsoleMetrics:
    """The counters and histograms of one console, in their own registry.

    Under gunicorn (``PROMETHEUS_MULTIPROC_DIR`` set before the library is imported)
    each process writes its values to files in that directory and a scrape adds them
    up; otherwise they live in this registry.
    """

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("backoffice_http_requests", "HTTP requests answered, by screen kind and status",
                                ["kind", "status"], registry=r)
        self.latency = Histogram("backoffice_http_request_duration_seconds",
                                 "Time to answer a request, by screen kind and status", ["kind", "status"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.database_errors = Counter("backoffice_database_errors",
                                       "Database errors by database (primary, replica) and kind "
                                       "(timeout, disconnect, other)", ["database", "kind"], registry=r)
        self.audit_events = Counter("backoffice_audit_events", "Audit rows written by committed transactions",
                                    registry=r)
        self.sign_in_failures = Counter("backoffice_sign_in_failures",
                                        "Requests refused for wrong credentials (the ones the limit counts)",
                                        registry=r)
        self.lockouts = Counter("backoffice_sign_in_lockouts",
                                "Requests refused because their address made too many failed sign-ins",
                                registry=r)
        self.review_decisions = Counter("backoffice_review_decisions", "Review-queue decisions committed, by action",
                                        ["action"], registry=r)
        self.replica_reads = Counter("backoffice_replica_routing",
                                     "Heavy reads by where they went (replica, primary) and why", ["target", "reason"],
                                     registry=r)

    def count_committed(self, changeset) -> None:
        """One committed change set (an audit_hooks ChangeSet): its audit rows, its decision."""
        self.audit_events.inc(len(changeset.audit_ids))
        action = changeset.action or ""
        if action.startswith("review."):
            self.review_decisions.labels(action.removeprefix("review.")).inc()

    def observe_request(self, kind: str, status: int, seconds: float | None) -> None:
        status_text = str(status)
        self.requests.labels(kind, status_text).inc()
        if seconds is not None:
            self.latency.labels(kind, status_text).observe(seconds)
