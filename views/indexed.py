"""On a large table, offer to sort and filter by indexed columns only (unless declared).

Sorting or filtering a million rows by a column without an index makes PostgreSQL
read the whole table for every page. :class:`IndexedDefaultsMixin` keeps what the
screen offers by default (the header sort links and the filter menu) to columns an
index can serve once the table is large, and the list says so. What the declarative
file names in ``sortable`` or ``filters`` is offered whatever the size: a maintainer
who declares a column has decided the cost is fine. A link that asks for another
order anyway (bookmarked, typed) is still served, bounded as before: only the first
pages, with a note (``views/listing.py``).

The decision follows the table's size as the list knows it (``table_size()``, cached
per screen), so a table that grows past the limit narrows its defaults without a restart.
"""
from __future__ import annotations

from sqlalchemy import inspect

__all__ = ["IndexedDefaultsMixin"]


class IndexedDefaultsMixin:
    """Sort links and filters of a large table limited to indexed columns (needs ``ListingMixin``)."""

    #: Set by ``ColumnsMixin`` when the lists were derived from the schema (not declared).
    sortable_defaulted: bool = False
    filters_defaulted: bool = False

    def indexed_only(self) -> bool:
        """Whether this screen's defaults are narrowed to indexed columns right now."""
        narrowable = self.sortable_defaulted or self.filters_defaulted
        return narrowable and self.table_size().large  # type: ignore[attr-defined]

    def indexed_attributes(self) -> frozenset[str]:
        """Attribute keys of the columns an index leads with (the primary key included).
        The reflected indexes do not change while the console runs: computed once."""
        keys = self.__dict__.get("_indexed_attributes")
        if keys is None:
            mapper = inspect(self.entry.model)  # type: ignore[attr-defined]
            table = self.entry.table  # type: ignore[attr-defined]
            found = set()
            for name in self._indexed_names():  # type: ignore[attr-defined]
                try:
                    found.add(mapper.get_property_by_column(table.c[name]).key)
                except Exception:  # a column the mapping does not expose
                    continue
            keys = self._indexed_attributes = frozenset(found)
        return keys

    def indexed_columns(self) -> frozenset:
        columns = self.__dict__.get("_indexed_columns")
        if columns is None:
            table = self.entry.table  # type: ignore[attr-defined]
            columns = self._indexed_columns = frozenset(
                table.c[name] for name in self._indexed_names() if name in table.c)  # type: ignore[attr-defined]
        return columns

    def is_sortable(self, name: str) -> bool:
        if not super().is_sortable(name):  # type: ignore[misc]
            return False
        if not self.sortable_defaulted or not self.indexed_only():
            return True
        return name in self.indexed_attributes()

    def _get_filter_groups(self):
        groups = super()._get_filter_groups()  # type: ignore[misc]
        if not groups or not self.filters_defaulted or not self.indexed_only():
            return groups
        indexed = self.indexed_columns()
        # The entries keep their index into self._filters, so the URLs of the filters
        # that remain (and of any bookmarked one) mean what they meant before.
        kept = {}
        for label, items in groups.items():
            items = [item for item in items if getattr(self._filters[item["index"]], "column", None) in indexed]
            if items:
                kept[label] = items
        return type(groups)(kept)

    def indexed_only_note(self) -> str | None:
        """What the list says under the table when it offers fewer columns than usual."""
        if not self.indexed_only():
            return None
        indexed = self.indexed_attributes()
        labels = self.column_labels  # type: ignore[attr-defined]
        sortable = self.column_sortable_list or ()  # type: ignore[attr-defined]
        offered = [labels.get(key, key) for key in sortable if key in indexed]
        how = " and ".join(w for w, on in (("sorted", self.sortable_defaulted),
                                           ("filtered", self.filters_defaulted)) if on)
        columns = ", ".join(offered) if offered else "the primary key"
        return (f"This table is large: it can be {how} by indexed columns only ({columns}). "
                "Declare sortable or filters for this screen to offer others.")
