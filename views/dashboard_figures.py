"""What the dashboard shows, each read cheaply: the stored catalog-health report and its
history, the queues' sizes per state, the newest audit events and the system's status.

Nothing here scans a large table: health figures come from the stored snapshot (one
primary-key read) and its history (an indexed read, LIMIT); a queue state is counted only
through an index that leads with the state column, and only up to :data:`QUEUE_COUNT_CAP`;
audit events are read by primary key descending, LIMIT 20. Each section fails on its own:
a page that cannot read one still shows the others, saying what is missing.
"""
from __future__ import annotations

import datetime as dt
import logging
import time

from sqlalchemy import func, select, text

from backoffice.catalog.snapshot import read_history
from models.own import audit_events, audit_verifications
from views.paging import measure_table

__all__ = ["health_cards", "queue_sizes", "recent_events", "system_status", "QUEUE_COUNT_CAP", "RECENT_EVENTS"]

log = logging.getLogger(__name__)

#: A state with more rows than this is shown as "10,000+": counting further reads more index.
QUEUE_COUNT_CAP = 10_000
RECENT_EVENTS = 20
#: Above this many rows a queue table is large: a state without an index is not counted.
LARGE_QUEUE = 100_000


def _first_line(error: Exception) -> str:
    return str(getattr(error, "orig", error)).strip().splitlines()[0][:200]


def health_cards(service) -> dict:
    """``{"cards": [...], "computed_at": ..., "note": ...}`` from the stored report only: the
    dashboard never starts a computation (the catalog-health page does)."""
    if service is None:
        return {"cards": [], "computed_at": None, "note": "Catalog health is not set up on this console."}
    if service.store is None:
        return {"cards": [], "computed_at": None, "note": "Reports are not stored on this console: "
                "open Catalog health for this process's figures."}
    try:
        snapshot = service.store.read(service.checks)
        history = read_history(service.store.engine, service.store.name)
    except Exception as error:  # noqa: BLE001  the section says so; the page stands
        return {"cards": [], "computed_at": None, "note": f"Stored reports could not be read: {_first_line(error)}"}
    if snapshot.report is None:
        return {"cards": [], "computed_at": None,
                "note": "No report is stored yet: open Catalog health to compute the first one."}
    cards = []
    for result in snapshot.report.results:
        name = result.check.name
        series = [figures.get(name) for _, figures in history]
        previous = next((v for v in reversed(series[:-1]) if v is not None), None) if len(series) > 1 else None
        cards.append({"name": name, "label": result.check.label or name.replace("_", " "),
                      "status": result.status, "count": result.count, "total": result.total,
                      "series": series, "previous": previous,
                      "change": None if previous is None or result.count is None else result.count - previous})
    return {"cards": cards, "computed_at": snapshot.computed_at, "reports": len(history), "note": None}


def _leads_index(table, column_name: str) -> bool:
    return any(len(index.columns) and index.columns[0].name == column_name for index in table.indexes) or \
        any(c.__class__.__name__ == "UniqueConstraint" and len(c.columns) and c.columns[0].name == column_name
            for c in table.constraints)


def queue_sizes(session, queue_views) -> list[dict]:
    """Per queue: its rows per state, each counted through the state column's index (capped),
    or not at all on a large table the index does not serve."""
    queues = []
    for view in queue_views:
        spec = view.queue
        model = view.runner.model
        table = model.__table__
        column = table.c[spec.status] if spec.status in table.c else getattr(model, spec.status)
        item = {"label": spec.label, "url": view.get_url(".index"), "states": [], "note": None}
        try:
            indexed = _leads_index(table, column.name)
            large = False
            if not indexed:
                size = measure_table(session, _Entry(table), LARGE_QUEUE, time.monotonic())
                large = size.large
            if large:
                item["note"] = (f"Not counted: {table.name} is large and no index leads with {column.name} "
                                f"(create one to see the sizes here).")
            else:
                for state in spec.all_states():
                    limited = select(func.count()).select_from(
                        select(text("1")).select_from(table).where(column == state).limit(QUEUE_COUNT_CAP + 1).subquery())
                    n = session.execute(limited).scalar() or 0
                    item["states"].append({"state": state, "count": min(n, QUEUE_COUNT_CAP),
                                           "capped": n > QUEUE_COUNT_CAP,
                                           "url": view.get_url(".index", state=state)})
        except Exception as error:  # noqa: BLE001
            session.rollback()
            item["note"] = f"Not counted: {_first_line(error)}"
        queues.append(item)
    return queues


class _Entry:
    """The little of a reflected table :func:`measure_table` reads."""

    def __init__(self, table):
        self.table, self.name, self.schema, self.kind = table, table.name, table.schema, "table"


def recent_events(session) -> tuple[list[dict], str | None]:
    """The newest :data:`RECENT_EVENTS` audit events (primary key descending)."""
    t = audit_events
    try:
        rows = session.execute(select(t.c.id, t.c.occurred_at, t.c.actor, t.c.action, t.c.entity_type, t.c.entity_id)
                               .order_by(t.c.id.desc()).limit(RECENT_EVENTS)).mappings().all()
    except Exception as error:  # noqa: BLE001
        session.rollback()
        return [], f"The audit history could not be read: {_first_line(error)}"
    return [dict(r) for r in rows], None


def _utc(value):
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def system_status(session, limiter) -> list[dict]:
    """Database, rate-limit store and audit chain: each ``{"name", "ok", "text"}`` (ok None: unknown)."""
    items = []
    try:
        session.execute(text("SELECT 1"))
        items.append({"name": "Database", "ok": True,
                      "text": f"answers ({session.get_bind().dialect.name})"})
    except Exception as error:  # noqa: BLE001
        session.rollback()
        items.append({"name": "Database", "ok": False, "text": f"does not answer: {_first_line(error)}"})
    if limiter is None:
        items.append({"name": "Sign-in limit store", "ok": None, "text": "not configured"})
    else:
        storage = limiter.storage
        kind = type(storage).__name__.lower()
        where = ("redis (shared by every instance)" if "redis" in kind else
                 "memory (this process only)" if "memory" in kind else
                 "file on this host" if "sqlite" in kind or "file" in kind else type(storage).__name__)
        try:
            answers = bool(storage.check())
        except Exception:  # noqa: BLE001  a store that raises does not answer
            answers = False
        items.append({"name": "Sign-in limit store", "ok": answers,
                      "text": f"{where}: {'answers' if answers else 'does NOT answer (sign-ins are refused)'}"})
    v = audit_verifications
    try:
        row = session.execute(select(v).order_by(v.c.id.desc()).limit(1)).mappings().first()
    except Exception as error:  # noqa: BLE001
        session.rollback()
        row, failure = None, _first_line(error)
    else:
        failure = None
    if failure:
        items.append({"name": "Audit chain", "ok": None, "text": f"last verification unknown: {failure}"})
    elif row is None:
        items.append({"name": "Audit chain", "ok": None,
                      "text": "never verified (run backoffice audit-verify)"})
    else:
        what = "verified" if row["kind"] == "verify" else "checkpoint taken"
        items.append({"name": "Audit chain", "ok": bool(row["ok"]), "at": _utc(row["at"]),
                      "text": f"last {what}: {'OK' if row['ok'] else 'FAILED'}, {row['message']}"})
    return items
