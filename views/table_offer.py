"""What a screen's table offers to a list: its size (measured, cached) and the columns an
index leads with, which decide the default sort links and filters of a large table and
whether it can be paged by key (:mod:`views.keyset`). Used by :class:`views.reading.ReadingPart`."""
from __future__ import annotations

import time

from flask import g
from sqlalchemy import inspect

from views.keyset import seekable
from views.names import db_session
from views.paging import ListingPage, TableSize, measure_table

__all__ = ["TableOffer"]


class TableOffer:
    """Mixin of :class:`~views.reading.ReadingPart` (overrides no Flask-Admin hook). Reads the
    part's ``entry``, ``size_cache_seconds``, ``exact_count_limit``, ``sortable_defaulted`` and
    ``filters_defaulted``; keeps the size decision in ``_size``."""

    def table_size(self) -> TableSize:
        """The cached size decision for this screen's table (at most one cheap query per period)."""
        now = time.monotonic()
        if self._size is None or now - self._size.measured_at > self.size_cache_seconds:
            self._size = measure_table(db_session(self), self.entry, self.exact_count_limit, now)
        return self._size

    def current_listing(self) -> ListingPage | None:
        """The paging state of the list page being rendered (for the template)."""
        return g.get("_backoffice_listing")

    def indexed_only(self) -> bool:
        """Whether this screen's default sort links and filters are narrowed to indexed columns now."""
        return (self.sortable_defaulted or self.filters_defaulted) and self.table_size().large

    def indexed_attributes(self) -> frozenset[str]:
        """Attribute keys of the columns an index leads with (the primary key included).
        The reflected indexes do not change while the console runs: computed once."""
        keys = self.__dict__.get("_indexed_attributes")
        if keys is None:
            keys = self._indexed_attributes = frozenset(
                key for name in self.indexed_names() if (key := self._attribute(self.entry.table.c[name])))
        return keys

    def indexed_columns(self) -> frozenset:
        columns = self.__dict__.get("_indexed_columns")
        if columns is None:
            table = self.entry.table
            columns = self._indexed_columns = frozenset(
                table.c[name] for name in self.indexed_names() if name in table.c)
        return columns

    def indexed_only_note(self) -> str | None:
        """What the list says under the table when it offers fewer columns than usual."""
        if not self.indexed_only():
            return None
        indexed = self.indexed_attributes()
        offered = [self.column_labels.get(key, key) for key in self.column_sortable_list or () if key in indexed]
        how = " and ".join(w for w, on in (("sorted", self.sortable_defaulted),
                                           ("filtered", self.filters_defaulted)) if on)
        columns = ", ".join(offered) if offered else "the primary key"
        return (f"This table is large: it can be {how} by indexed columns only ({columns}). "
                "Declare sortable or filters for this screen to offer others.")

    def keyset_columns(self, sort_name: str | None):
        """The columns of a seek ordering for ``sort_name`` (None = primary key), or None."""
        table = self.entry.table
        # Only a declared primary key is unique; the stand-in key of a view is not.
        pk = [c.name for c in table.primary_key.columns]
        if not pk:
            return None
        if sort_name is not None:
            if sort_name not in table.c or sort_name not in self.indexed_names():
                return None
            names = [sort_name] + [n for n in pk if n != sort_name]
        else:
            names = pk
        columns = [table.c[n] for n in names]
        if not all(seekable(c) and self._attribute(c) for c in columns):
            return None
        return columns

    def _attribute(self, column) -> str | None:
        try:
            return inspect(self.entry.model).get_property_by_column(column).key
        except Exception:  # a column the mapping does not expose
            return None

    def indexed_names(self) -> set[str]:
        table = self.entry.table
        leading = {index.columns[0].name for index in table.indexes if len(index.columns)}
        leading.update(c.columns[0].name for c in table.constraints
                       if c.__class__.__name__ == "UniqueConstraint" and len(c.columns))
        pk = list(table.primary_key.columns)
        if pk:
            leading.add(pk[0].name)
        return leading
