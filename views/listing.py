"""List screens that stay fast on big tables: a count strategy per screen and keyset paging.

Flask-Admin counts every row on every list page and pages with OFFSET; on a
million-row table the COUNT alone costs more than the rest of the request and
page 1,000 walks 50,000 rows. :class:`ListingMixin` replaces both:

- the count follows ``count_strategy`` (exact | estimate | capped | none | auto).
  ``auto`` counts small tables exactly, shows the planner's estimate for large
  PostgreSQL tables ("about 1.0M") and a capped count ("10,000+") elsewhere. A
  searched or filtered list never runs an unbounded count: it is always capped.
- large tables page by key (``?after=<key>``) when the order is the primary key or
  an indexed column; otherwise OFFSET paging is bounded to ``max_offset_rows`` and
  the screen says why. Small tables keep Flask-Admin's numbered pager.

Whether a table is large is decided from ``pg_class`` (or a bounded probe on
SQLite and views) and remembered for ``size_cache_seconds``, never counted per request.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from flask import g, request
from flask_admin.contrib.sqla.view import _get_deprecated_session
from sqlalchemy import func, inspect, literal_column, select, text

from views.keyset import PageKeyError, decode_key, encode_key, seek_condition, seekable
from views.rowactions import RowActionsMixin

__all__ = ["ListingMixin", "ShownCount", "TableSize", "ListingPage", "COUNT_STRATEGIES"]

COUNT_STRATEGIES = ("exact", "estimate", "capped", "none", "auto")


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


class ListingMixin(RowActionsMixin):
    """Counting and paging for :class:`views.base.ReflectedModelView` (needs ``self.entry``)."""

    #: exact | estimate | capped | none | auto (set per screen by the declarative file's ``count``).
    count_strategy: str = "auto"
    #: Above this many rows a table is "large": estimated or capped counts, keyset pages.
    exact_count_limit: int = 100_000
    #: A capped count stops here and shows "10,000+".
    count_cap: int = 10_000
    #: On large tables OFFSET paging (unindexed sort) stops after this many rows.
    max_offset_rows: int = 10_000
    #: How long a table-size decision is reused.
    size_cache_seconds: float = 300.0
    #: Flask-Admin must never count by itself: this mixin does, by strategy.
    simple_list_pager = True
    #: Only a non-CSV export (none is offered by default) still loads rows; CSV streams (views/export.py).
    export_max_rows = 10_000

    def __init__(self, *args, **kwargs):
        # Filters are the column plans' (every filterable type); on a large table a
        # filtered list still costs at most a capped count and one bounded page.
        self._size: TableSize | None = None
        super().__init__(*args, **kwargs)

    # -- what the table offers -------------------------------------------------------------

    def _attribute(self, column) -> str | None:
        try:
            return inspect(self.entry.model).get_property_by_column(column).key
        except Exception:  # a column the mapping does not expose
            return None

    def _indexed_names(self) -> set[str]:
        table = self.entry.table
        leading = {index.columns[0].name for index in table.indexes if len(index.columns)}
        leading.update(c.columns[0].name for c in table.constraints
                       if c.__class__.__name__ == "UniqueConstraint" and len(c.columns))
        pk = list(table.primary_key.columns)
        if pk:
            leading.add(pk[0].name)
        return leading

    def _db_session(self):
        # Flask-Admin 2 keeps the Flask-SQLAlchemy extension here, not its session.
        return _get_deprecated_session(self.session)

    # -- table size, cheap and cached ------------------------------------------------------

    def table_size(self) -> TableSize:
        """The cached size decision for this screen's table (at most one cheap query per period)."""
        now = time.monotonic()
        if self._size is None or now - self._size.measured_at > self.size_cache_seconds:
            self._size = self._measure(now)
        return self._size

    def _measure(self, now: float) -> TableSize:
        entry, session = self.entry, self._db_session()
        if session.get_bind().dialect.name == "postgresql" and entry.kind != "view":
            name = f'"{entry.schema}"."{entry.name}"' if entry.schema else f'"{entry.name}"'
            stats = session.execute(text(
                "SELECT reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int "
                "FROM pg_class WHERE oid = to_regclass(:name)"), {"name": name}).first()
            if stats is not None and stats[0] >= 0 and stats[1] > 0:
                # The planner's own extrapolation: density from the last ANALYZE, size from now.
                rows = int(stats[0] / stats[1] * stats[2])
                return TableSize(rows, True, rows > self.exact_count_limit, now)
            if stats is not None and stats[2] == 0:
                return TableSize(0, True, False, now)
        limited = select(func.count()).select_from(
            select(text("1")).select_from(entry.table).limit(self.exact_count_limit + 1).subquery())
        rows = session.execute(limited).scalar() or 0
        return TableSize(rows, False, rows > self.exact_count_limit, now)

    # -- counting --------------------------------------------------------------------------

    def count_plan(self, size: TableSize, narrowed: bool) -> str:
        """The strategy this request uses: the screen's, made safe for size and search."""
        strategy = self.count_strategy if self.count_strategy in COUNT_STRATEGIES else "auto"
        if strategy == "none":
            return "none"
        if narrowed:
            return "capped"  # a search or filter never runs an unbounded count
        if strategy == "auto":
            strategy = "exact" if not size.large else "estimate" if size.estimated else "capped"
        if strategy == "estimate" and not size.estimated:
            strategy = "capped"
        return strategy

    def _count(self, plan: str, size: TableSize, base) -> ShownCount | None:
        if plan == "none":
            return None
        if plan == "estimate":
            return ShownCount(size.rows, "estimate")
        if plan == "exact":
            return ShownCount(self.get_count_query().scalar() or 0)
        # SELECT 1, not the row: an index-only scan can answer "how many, up to the cap".
        narrowed = base.order_by(None).enable_eagerloads(False).statement.with_only_columns(
            literal_column("1"), maintain_column_froms=True).limit(self.count_cap + 1)
        rows = self._db_session().execute(select(func.count()).select_from(narrowed.subquery())).scalar() or 0
        return ShownCount(self.count_cap, "capped") if rows > self.count_cap else ShownCount(rows)

    # -- ordering --------------------------------------------------------------------------

    def _requested_order(self, sort_column, sort_desc) -> tuple[str | None, bool]:
        if sort_column is not None:
            return sort_column, bool(sort_desc)
        default = self.column_default_sort
        pk = list(self.entry.primary_key)
        if isinstance(default, list) and [d[0] if isinstance(d, tuple) else d for d in default] == pk:
            return None, all(isinstance(d, tuple) and d[1] for d in default)
        if isinstance(default, list) and len(default) == 1:
            default = default[0]
        if isinstance(default, tuple):
            return default[0], bool(default[1])
        if isinstance(default, str):
            return default, False
        return None, False

    def keyset_columns(self, sort_name: str | None):
        """The columns of a seek ordering for ``sort_name`` (None = primary key), or None."""
        table = self.entry.table
        # Only a declared primary key is unique; the stand-in key of a view is not.
        pk = [c.name for c in table.primary_key.columns]
        if not pk:
            return None
        if sort_name is not None:
            if sort_name not in table.c or sort_name not in self._indexed_names():
                return None
            names = [sort_name] + [n for n in pk if n != sort_name]
        else:
            names = pk
        columns = [table.c[n] for n in names]
        if not all(seekable(c) and self._attribute(c) for c in columns):
            return None
        return columns

    # -- the list --------------------------------------------------------------------------

    def current_listing(self) -> ListingPage | None:
        """The paging state of the list page being rendered (for the template)."""
        return g.get("_backoffice_listing")

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        if not execute or request.endpoint != f"{self.endpoint}.index_view":
            return super().get_list(page, sort_column, sort_desc, search, filters,
                                    execute=execute, page_size=page_size)
        page = page or 0
        page_size = self.page_size if page_size is None else page_size
        size = self.table_size()
        plan = self.count_plan(size, narrowed=bool(search) or bool(filters))
        base = super().get_list(None, None, False, search, filters, execute=False, page_size=0)[1]
        sort_name, desc = self._requested_order(sort_column, sort_desc)
        columns = self.keyset_columns(sort_name) if size.large and page_size else None
        if columns is not None:
            listing, data = self._keyset_page(base, columns, desc, page, page_size)
        elif size.large and page_size:
            listing, data = self._bounded_page(page, sort_column, sort_desc, search, filters, page_size, sort_name)
        else:
            listing = ListingPage("offset")
            data = super().get_list(page, sort_column, sort_desc, search, filters, page_size=page_size)[1]
        if plan == "capped" and not page and page_size and len(data) < page_size and not listing.note:
            count = ShownCount(len(data))  # a first page that is not full holds every match: no count needed
        else:
            count = self._count(plan, size, base)
        listing.count, listing.strategy, listing.narrowed = count, plan, bool(search) or bool(filters)
        g._backoffice_listing = listing
        return count, data

    def _url(self, page: int, **keys) -> str:
        args = self._get_list_extra_args()
        extra = {k: v for k, v in args.extra_args.items() if k not in ("after", "before")}
        extra.update({k: v for k, v in keys.items() if v is not None})
        return self._get_list_url(args.clone(page=page or None, extra_args=extra))

    def _keyset_page(self, base, columns, desc: bool, page: int, page_size: int):
        listing = ListingPage("keyset", first_url=self._url(0))
        after, before = request.args.get("after"), request.args.get("before")
        backwards = before is not None and after is None
        ascending = not desc if not backwards else desc
        # PostgreSQL sorts NULLs as the largest value, SQLite as the smallest.
        nulls_high = self._db_session().get_bind().dialect.name == "postgresql"
        nulls_first = nulls_high != ascending
        query = base.order_by(None).order_by(*[c.asc() if ascending else c.desc() for c in columns])
        key_text = before if backwards else after
        if key_text is not None:
            try:
                values = decode_key(key_text, columns)
                query = query.filter(seek_condition(columns, values, ascending, nulls_first))
            except PageKeyError as exc:
                listing.note = f"The page link was not valid ({exc}); showing the first page."
                page, backwards = 0, False
        elif page * page_size > self.max_offset_rows:
            listing.note = (f"Page numbers past {self.max_offset_rows // page_size:,} are not served on this "
                            "large table; follow Next and Previous instead. Showing the first page.")
            page = 0
        elif page:
            query = query.offset(page * page_size)  # a shallow numbered page: bounded OFFSET
        rows = query.limit(page_size + 1).all()
        more, rows = len(rows) > page_size, rows[:page_size]
        if backwards:
            rows.reverse()
        names = [self._attribute(c) for c in columns]
        key = lambda row: encode_key([getattr(row, n) for n in names])  # noqa: E731
        has_next = True if backwards else more
        has_prev = more if backwards else page > 0
        if rows and has_next:
            listing.next_url = self._url(page + 1, after=key(rows[-1]))
        if has_prev:
            listing.prev_url = self._url(page - 1, before=key(rows[0])) if rows and page > 1 else listing.first_url
        return listing, rows

    def _bounded_page(self, page, sort_column, sort_desc, search, filters, page_size, sort_name):
        max_page = max(self.max_offset_rows // page_size - 1, 0)
        listing = ListingPage("bounded", max_page=max_page)
        what = f"sorted by {sort_name}, which has no index" if sort_name else "in an order without a usable key"
        listing.note = (f"This large table is {what}: only the first {max_page + 1:,} pages are served. "
                        "Sort by an indexed column or narrow the list with search or filters to go further.")
        if page > max_page:
            page = max_page
        data = super().get_list(page, sort_column, sort_desc, search, filters, page_size=page_size)[1]
        return listing, data
