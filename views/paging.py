"""The facts a list page is built from: how big a table is, how to count it, how it was paged.

Plain data and functions, no view: :class:`views.reading.ReadingPart` decides with them.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text

from views.options import COUNT_STRATEGIES

__all__ = ["ShownCount", "TableSize", "ListingPage", "COUNT_STRATEGIES", "measure_table", "count_plan",
           "requested_order"]

class ShownCount(int):
    """A row count that renders itself honestly: ``1,234``, ``about 1.0M`` or ``10,000+``."""

    kind: str

    def __new__(cls, value: int, kind: str = "exact"):
        shown = super().__new__(cls, value)
        shown.kind = kind
        return shown

    def __str__(self) -> str:
        if self.kind == "estimate":
            return "about " + _short(int(self))
        if self.kind == "capped":
            return f"{int(self):,}+"
        return f"{int(self):,}"

    def __html__(self) -> str:  # Jinja renders {{ count }} through this
        return str(self)


def _short(n: int) -> str:
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if n >= size:
            return f"{n / size:.1f}{suffix}"
    return f"{n:,}"


@dataclass(frozen=True)
class TableSize:
    """What the console believes about a table's size, and how it knows."""

    rows: int
    estimated: bool  # from PostgreSQL statistics (else a bounded probe)
    large: bool
    measured_at: float


@dataclass
class ListingPage:
    """How the current list page was produced; read by the ``list_pager`` template block."""

    mode: str  # "offset" (numbered pager), "keyset" or "bounded" (offset with a page limit)
    count: ShownCount | None = None
    strategy: str = "exact"
    first_url: str | None = None
    prev_url: str | None = None
    next_url: str | None = None
    note: str | None = None
    narrowed: bool = False  # a search or filter is active
    max_page: int | None = None


def measure_table(session, entry, large_above: int, now: float) -> TableSize:
    """The size of ``entry``'s table: PostgreSQL's statistics for a table, else a probe
    that stops counting past ``large_above`` (SQLite, views)."""
    if session.get_bind().dialect.name == "postgresql" and entry.kind != "view":
        name = f'"{entry.schema}"."{entry.name}"' if entry.schema else f'"{entry.name}"'
        stats = session.execute(text(
            "SELECT reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int "
            "FROM pg_class WHERE oid = to_regclass(:name)"), {"name": name}).first()
        if stats is not None and stats[0] >= 0 and stats[1] > 0:
            # The planner's own extrapolation: density from the last ANALYZE, size from now.
            rows = int(stats[0] / stats[1] * stats[2])
            return TableSize(rows, True, rows > large_above, now)
        if stats is not None and stats[2] == 0:
            return TableSize(0, True, False, now)
    limited = select(func.count()).select_from(
        select(text("1")).select_from(entry.table).limit(large_above + 1).subquery())
    rows = session.execute(limited).scalar() or 0
    return TableSize(rows, False, rows > large_above, now)


def count_plan(strategy: str, size: TableSize, narrowed: bool) -> str:
    """The strategy a request uses: the screen's, made safe for size and search."""
    strategy = strategy if strategy in COUNT_STRATEGIES else "auto"
    if strategy == "none":
        return "none"
    if narrowed:
        return "capped"  # a search or filter never runs an unbounded count
    if strategy == "auto":
        strategy = "exact" if not size.large else "estimate" if size.estimated else "capped"
    if strategy == "estimate" and not size.estimated:
        strategy = "capped"
    return strategy


def requested_order(default, primary_key: list[str], sort_column, sort_desc) -> tuple[str | None, bool]:
    """(column, descending) of the list's order; column None = the primary key."""
    if sort_column is not None:
        return sort_column, bool(sort_desc)
    if isinstance(default, list) and [d[0] if isinstance(d, tuple) else d for d in default] == primary_key:
        return None, all(isinstance(d, tuple) and d[1] for d in default)
    if isinstance(default, list) and len(default) == 1:
        default = default[0]
    if isinstance(default, tuple):
        return default[0], bool(default[1])
    if isinstance(default, str):
        return default, False
    return None, False
