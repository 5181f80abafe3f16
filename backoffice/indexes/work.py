"""Measure what a missing index costs, and create chosen indexes with progress.

Measuring runs the operation the index would serve, as the console runs it, in a
read-only transaction under a timeout: a health check through the catalog runner,
a list operation as the statement of its first page. Creating runs the advised
``CREATE INDEX CONCURRENTLY`` (no lock that blocks writes) on its own autocommit
connection, without the request statement timeout, while another connection reads
``pg_stat_progress_create_index`` to report the phase and how far it got.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from backoffice.catalog.runner import is_timeout, read_only, run_checks
from backoffice.indexes.advice import Need, quote_name

__all__ = ["measure", "create", "PROGRESS"]

#: What the progress view's phases mean for an operator.
PROGRESS = text("""
SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total
FROM pg_stat_progress_create_index WHERE pid = :pid
""")
#: A search text that matches nothing: the slowest case of a contains-search.
_NOWHERE = "qzxjv"


def _statement(need: Need) -> str:
    entry = need.entry
    target = (f"{quote_name(entry.schema)}." if entry.schema else "") + quote_name(entry.name)
    column = quote_name(need.keys[0])
    pk = ", ".join(quote_name(c.name) for c in entry.table.primary_key.columns) or column
    if need.kind == "trigram":
        return f"SELECT * FROM {target} WHERE {column} ILIKE :nowhere ORDER BY {pk} LIMIT 51"
    if need.kind == "fulltext":
        return f"SELECT * FROM {target} WHERE {column} @@ plainto_tsquery(:word) LIMIT 51"
    return f"SELECT * FROM {target} ORDER BY {column} LIMIT 51"


def measure(engine: Engine, need: Need, *, checks: dict[str, Any], reflection: Any, stale_days: int,
            timeout_ms: int) -> tuple[float | None, str]:
    """(seconds, how it went) of the operation ``need`` serves, as it runs today."""
    if need.check is not None and need.check in checks:
        report = run_checks(engine, reflection, [checks[need.check]], sample_limit=0, stale_days=stale_days,
                            timeout_ms=timeout_ms, workers=1)
        result = report.results[0]
        return (result.seconds, result.status) if result.status == "ok" else (None, result.status)
    started = time.monotonic()
    try:
        with read_only(engine, timeout_ms) as conn:
            conn.execute(text(_statement(need)), {"nowhere": f"%{_NOWHERE}%", "word": _NOWHERE}).fetchall()
    except Exception as error:  # noqa: BLE001 - reported, never raised: advice goes on
        return None, "timed out" if is_timeout(error) else "failed"
    return time.monotonic() - started, "ok"


def create(engine: Engine, need: Need, *, report: Callable[[str], None], poll_seconds: float = 2.0) -> None:
    """Run ``need``'s statement; ``report`` receives progress lines. Raises on failure."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.connection.detach()  # its settings below must not go back to the pool
        conn.exec_driver_sql("SET statement_timeout = 0")
        if need.needs_trigram:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        invalid = conn.execute(text("SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                    "WHERE c.relname = :n AND NOT i.indisvalid"), {"n": need.name}).first()
        if invalid:  # left by an interrupted CREATE INDEX CONCURRENTLY: it serves nothing
            report(f"  dropping the invalid index {need.name} left by an earlier attempt")
            conn.exec_driver_sql(f"DROP INDEX CONCURRENTLY {quote_name(need.name)}")
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        done = threading.Event()
        watcher = threading.Thread(target=_watch, args=(engine, pid, done, report, poll_seconds), daemon=True)
        watcher.start()
        try:
            conn.exec_driver_sql(need.statement())
        finally:
            done.set()
            watcher.join()


def _watch(engine: Engine, pid: int, done: threading.Event, report: Callable[[str], None], poll: float) -> None:
    last = None
    with engine.connect() as conn:
        while not done.wait(poll):
            row = conn.execute(PROGRESS, {"pid": pid}).first()
            conn.rollback()
            if row is None:
                continue
            line = f"  {row.phase}"
            if row.blocks_total:
                line += f": {row.blocks_done * 100 // row.blocks_total}% of {row.blocks_total:,} blocks"
            elif row.tuples_total:
                line += f": {row.tuples_done * 100 // row.tuples_total}% of {row.tuples_total:,} rows"
            if line != last:
                report(line)
                last = line
