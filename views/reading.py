"""Reading and paging: the part of a generated screen that decides what a list query does.

:class:`ReadingPart` owns every Flask-Admin hook that reads rows: ``get_list`` (the
list page: count, order, page), ``get_one`` and ``get_pk_value`` (a row's identity in
URLs), ``is_sortable`` and ``shown_filter_groups`` (what the list offers to sort and
filter by), and ``get_url`` (a screen's links, built cheaply by :mod:`views.urls`). Flask-Admin counts every row on every list page and pages with OFFSET; on
a million-row table that costs more than the rest of the request. Here:

- the count follows ``count_strategy`` (exact | estimate | capped | none | auto):
  ``auto`` counts small tables exactly, shows the planner's estimate for large
  PostgreSQL tables ("about 1.0M") and a capped count ("10,000+") elsewhere; a
  searched or filtered list never runs an unbounded count;
- large tables page by key (``?after=<key>``, :mod:`views.keyset`) when the order is
  the primary key or an indexed column; otherwise OFFSET paging stops after
  ``max_offset_rows`` and the screen says why;
- on a large table the sort links and filters offered by default are the indexed
  columns (what the declarative file names is offered whatever the size);
- a relation the database refuses to read shows an empty list and the reason.

Whether a table is large is decided from ``pg_class`` (or a bounded probe on SQLite
and views) and remembered for ``size_cache_seconds``, never counted per request
(:class:`views.table_offer.TableOffer`: the table's size and its indexed columns).
"""
from __future__ import annotations

from flask import flash, g, request, url_for
from sqlalchemy import func, literal_column, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import scoped_session

from backoffice.core.internals import FilterGroupsHook, list_arguments, list_filter, list_url
from backoffice.replica.heavy import read_heavy
from views.identity import encode_identity, find_row
from views.inline import stand_in
from views.keyset import PageKeyError, decode_key, encode_key, seek_condition
from views.names import db_session
from views.page_query import counted_page_query
from views.paging import ListingPage, ShownCount, TableSize, count_plan, requested_order
from views.rowactions import ROW_PLACEHOLDER, ROW_PROBE
from views.table_offer import TableOffer
from views.urls import request_url

__all__ = ["ReadingPart", "refused_reading"]


class ReadingPart(FilterGroupsHook, TableOffer):
    """Part of :class:`~views.base.ReflectedModelView`: list query, counts, paging, row identity,
    what can be sorted and filtered (see the module docstring). Needs ``self.entry``."""

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
    #: Flask-Admin must never count by itself: this part does, by strategy.
    simple_list_pager = True
    #: Export loads rows into memory: keep a worker's memory bounded.
    export_max_rows = 10_000
    #: Set by the presentation part when the lists were derived from the schema (not declared).
    sortable_defaulted: bool = False
    filters_defaulted: bool = False
    _size: TableSize | None = None
    #: Build this screen's URLs as one ``url_for`` per endpoint and request plus the quoted
    #: query (:meth:`get_url`); False: ``url_for`` for every link, as Flask-Admin does.
    prefix_urls: bool = True
    #: An exact count (a small table, no search or filter) asked in the page's own query as a
    #: scalar subquery (one round trip, counted once by the database) rather than a second query.
    fast_count: bool = True

    # -- Flask-Admin hooks -------------------------------------------------------------------

    def get_url(self, endpoint, **kwargs):
        """``url_for(endpoint, **kwargs)``, the same text. A list page builds ~50 URLs of a few
        endpoints: the sort, pager and filter links (no path arguments) from the path built
        once per request plus the query string quoted as werkzeug quotes it; the static files
        (a path argument) once per process (``views/urls.py``)."""
        if not self.prefix_urls:
            return url_for(endpoint, **kwargs)
        return request_url(endpoint, kwargs)

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """The list page's rows and count. A relation the database refuses to read (a
        materialized view never refreshed, a permission missing) shows an empty list and
        the database's reason, not an error page."""
        try:
            # The list page of a large table may read from the replica (backoffice/replica/heavy.py).
            heavy = self.table_size().rows if execute and request.endpoint == f"{self.endpoint}.index_view" else None
            count, rows = read_heavy(db_session(self), heavy, lambda: self._list(
                page, sort_column, sort_desc, search, filters, execute, page_size))
        except DBAPIError as exc:
            if not refused_reading(exc):
                raise  # unreachable database, timeout: the error pages say so (503)
            db_session(self).rollback()
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            flash(f"{self.screen} cannot be read: {reason}", "error")
            return 0, []
        if not execute:
            return count, rows
        # The ORM gives None for a row whose identifying columns are all NULL (a view's): it
        # is listed all the same, with its details in the list (views/inline.py).
        return count, [stand_in(self.model) if row is None else row for row in rows]

    def get_pk_value(self, model):
        """The row's identity for URLs, whatever its key's types (views/identity.py). The row
        renderer's stand-in row has a placeholder."""
        if model is ROW_PROBE:
            return ROW_PLACEHOLDER
        return encode_identity(self.entry, model)

    def get_one(self, id):
        """Look a row up from its URL identity, converted back to the key's types."""
        return find_row(db_session(self), self.model, self.entry, id)

    def is_sortable(self, name: str) -> bool:
        if not super().is_sortable(name):
            return False
        if not self.sortable_defaulted or not self.indexed_only():
            return True
        return name in self.indexed_attributes()

    def shown_filter_groups(self, groups):
        if not self.filters_defaulted or not self.indexed_only():
            return groups
        indexed = self.indexed_columns()
        # The entries keep their index into the view's filters, so the URLs of the filters
        # that remain (and of any bookmarked one) mean what they meant before.
        kept = {}
        for label, items in groups.items():
            items = [item for item in items if getattr(list_filter(self, item["index"]), "column", None) in indexed]
            if items:
                kept[label] = items
        return type(groups)(kept)

    # -- the list page -----------------------------------------------------------------------

    def _list(self, page, sort_column, sort_desc, search, filters, execute, page_size):
        if not execute or request.endpoint != f"{self.endpoint}.index_view":
            return super().get_list(page, sort_column, sort_desc, search, filters,
                                    execute=execute, page_size=page_size)
        page = page or 0
        page_size = self.page_size if page_size is None else page_size
        size = self.table_size()
        narrowed = bool(search) or bool(filters)
        plan = count_plan(self.count_strategy, size, narrowed)
        counted = None
        # The unexecuted query (search and filters applied) only where a keyset page or a
        # bounded count needs it: a small table's page does without building it.
        base = lambda: super(ReadingPart, self).get_list(  # noqa: E731
            None, None, False, search, filters, execute=False, page_size=0)[1]
        sort_name, desc = requested_order(self.column_default_sort, list(self.entry.primary_key),
                                          sort_column, sort_desc)
        columns = self.keyset_columns(sort_name) if size.large and page_size else None
        if columns is not None:
            listing, data = self._keyset_page(base(), columns, desc, page, page_size)
        elif size.large and page_size:
            listing = _bounded_listing(self.max_offset_rows, page_size, sort_name)
            page = min(page, listing.max_page)
            data = super().get_list(page, sort_column, sort_desc, search, filters, page_size=page_size)[1]
        else:
            listing = ListingPage("offset")
            if plan == "exact" and page_size and self.fast_count:
                data, counted = self._counted_page(page, sort_column, sort_desc, page_size)
            else:
                data = super().get_list(page, sort_column, sort_desc, search, filters, page_size=page_size)[1]
        if counted is not None:
            count = counted
        elif plan == "capped" and not page and page_size and len(data) < page_size and not listing.note:
            count = ShownCount(len(data))  # a first page that is not full holds every match: no count needed
        else:
            count = self._count(plan, size, base)
        listing.count, listing.strategy, listing.narrowed = count, plan, narrowed
        g._backoffice_listing = listing
        return count, data

    def _counted_page(self, page, sort_column, sort_desc, page_size):
        """A page and the exact count of the screen's rows (``get_count_query``, as the plain
        count asks it) from one statement, built once per page, order and size
        (``views/page_query.py``); an empty page (past the end) counts apart."""
        def build():
            query = super(ReadingPart, self).get_list(page, sort_column, sort_desc, None, None,
                                                      execute=False, page_size=page_size)[1]
            return query.add_columns(self.get_count_query().scalar_subquery().label("backoffice_total"))

        query = counted_page_query(self, build, page, sort_column, sort_desc, page_size)
        session = db_session(self)
        rows = query.with_session(session() if isinstance(session, scoped_session) else session).all()
        if not rows:
            return [], None
        return [row[0] for row in rows], ShownCount(rows[0][1] or 0)

    def _count(self, plan: str, size: TableSize, base) -> ShownCount | None:
        if plan == "none":
            return None
        if plan == "estimate":
            return ShownCount(size.rows, "estimate")
        if plan == "exact":
            return ShownCount(self.get_count_query().scalar() or 0)
        # SELECT 1, not the row: an index-only scan can answer "how many, up to the cap".
        narrowed = base().order_by(None).enable_eagerloads(False).statement.with_only_columns(
            literal_column("1"), maintain_column_froms=True).limit(self.count_cap + 1)
        rows = db_session(self).execute(select(func.count()).select_from(narrowed.subquery())).scalar() or 0
        return ShownCount(self.count_cap, "capped") if rows > self.count_cap else ShownCount(rows)

    def _url(self, page: int, **keys) -> str:
        args = list_arguments(self)
        extra = {k: v for k, v in args.extra_args.items() if k not in ("after", "before")}
        extra.update({k: v for k, v in keys.items() if v is not None})
        return list_url(self, args.clone(page=page or None, extra_args=extra))

    def _keyset_page(self, base, columns, desc: bool, page: int, page_size: int):
        listing = ListingPage("keyset", first_url=self._url(0))
        after, before = request.args.get("after"), request.args.get("before")
        backwards = before is not None and after is None
        ascending = not desc if not backwards else desc
        # PostgreSQL sorts NULLs as the largest value, SQLite as the smallest.
        nulls_high = db_session(self).get_bind().dialect.name == "postgresql"
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


def _bounded_listing(max_offset_rows: int, page_size: int, sort_name: str | None) -> ListingPage:
    max_page = max(max_offset_rows // page_size - 1, 0)
    what = f"sorted by {sort_name}, which has no index" if sort_name else "in an order without a usable key"
    return ListingPage("bounded", max_page=max_page,
                       note=f"This large table is {what}: only the first {max_page + 1:,} pages are served. "
                            "Sort by an indexed column or narrow the list with search or filters to go further.")


def refused_reading(exc: DBAPIError) -> bool:
    """The database answered but refused this relation (not populated, no permission,
    missing object), as opposed to being unreachable or cancelling a slow query."""
    if exc.connection_invalidated:
        return False
    code = getattr(exc.orig, "pgcode", None)
    if code is not None:
        return not code.startswith(("08", "57"))  # connection exceptions, cancels and shutdowns
    return "no such" in str(exc.orig)  # SQLite: a table or column that is gone
