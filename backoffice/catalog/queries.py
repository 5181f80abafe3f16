"""The SQL of every check kind, built once from a :class:`HealthCheck` and the reflection.

The page, the detail pages, the CSV export and the CLI all take their statements
from here, so they cannot disagree. Statements are SQLAlchemy Core and portable
between SQLite and PostgreSQL; the shapes are chosen so PostgreSQL can answer them
from the indexes documented in the README (see ``backoffice/demo/schema.py``).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, Text, Unicode, UnicodeText, and_, extract, func, literal, or_, select
from sqlalchemy.sql import ColumnElement, Select

from backoffice.catalog.checks import HealthCheck, parse_key

__all__ = ["CheckQueries", "combined_counts", "LABEL_COLUMNS"]

#: The first of these a table has names its rows on the page (else the primary key).
LABEL_COLUMNS = ("title", "name", "label", "username", "email")
_FUNCTIONS = {"lower": func.lower, "upper": func.upper, "trim": func.trim,
              "year": lambda column: extract("year", column)}


class CheckQueries:
    """Statements for one check. ``now`` fixes the staleness cut-off for one run."""

    def __init__(self, check: HealthCheck, reflection: Any, *, stale_days: int, now: dt.datetime | None = None):
        self.check = check
        self.entry = reflection.tables[check.table]
        self.table = self.entry.table
        self.pk = [self.table.c[name] for name in self.entry.primary_key]
        self.stale_days = check.days or stale_days
        self.now = now or dt.datetime.now(dt.timezone.utc)
        if check.kind == "coverage":
            self.related = reflection.tables[check.related].table.alias("related_rows")
        if check.kind == "duplicates":
            self.keys = [self._key(text) for text in check.key]

    # -- the shared pieces -------------------------------------------------------
    @property
    def label_column(self):
        for name in LABEL_COLUMNS:
            if name in self.table.c:
                return self.table.c[name]
        return None

    def display_columns(self) -> list:
        """Primary key, the row's label, then the columns the check looks at."""
        names: list[str] = [c.name for c in self.pk]
        if self.label_column is not None:
            names.append(self.label_column.name)
        check = self.check
        names += list(check.fields) + [parse_key(k)[1] for k in check.key] + list(check.only_with)
        if check.column:
            names.append(check.column)
        seen: dict[str, None] = dict.fromkeys(names)
        return [self.table.c[name] for name in seen]

    def scope(self) -> list[ColumnElement]:
        """Rows the check considers at all (``only_with``)."""
        return [self.table.c[name].is_not(None) for name in self.check.only_with]

    @property
    def stale_cutoff(self) -> dt.datetime:
        return self.now - dt.timedelta(days=self.stale_days)

    def condition(self) -> ColumnElement:
        """missing / stale / coverage: true for an affected row."""
        check, table = self.check, self.table
        if check.kind == "missing":
            parts = [self._missing(table.c[name]) for name in check.fields]
            return or_(*parts) if check.match == "any" else and_(*parts)
        if check.kind == "stale":
            column = table.c[check.column]
            return or_(column.is_(None), column < self.stale_cutoff)
        if check.kind == "coverage":
            related = self.related
            conditions = [related.c[check.via] == self._target()]
            for name, value in check.where:
                conditions.append(related.c[name].in_(value) if isinstance(value, tuple) else related.c[name] == value)
            return ~select(literal(1)).select_from(related).where(*conditions).exists()
        raise ValueError(f"{check.kind} checks have no row condition")

    def covered_count(self) -> Select | None:
        """coverage: how many rows DO have related rows, counted from the related side
        alone (distinct referencing keys), or None when that would not be exact.

        Exact only when ``via`` is a foreign key to this table (every distinct value
        is one existing row) and every row is in scope. It reads one index instead
        of joining two: on PostgreSQL, where foreign keys are always enforced, the
        runner uses it and subtracts from the table's row count.
        """
        check = self.check
        if check.kind != "coverage" or check.only_with:
            return None
        via = self.related.c[check.via]
        if not any(fk.column.table is self.table for fk in via.foreign_keys):
            return None
        conditions = [via.is_not(None)]
        for name, value in check.where:
            conditions.append(self.related.c[name].in_(value) if isinstance(value, tuple)
                              else self.related.c[name] == value)
        keys = select(via).where(*conditions).distinct().subquery("covered")
        return select(func.count()).select_from(keys)

    def _missing(self, column) -> ColumnElement:
        if self.check.blank and isinstance(column.type, (String, Text, Unicode, UnicodeText)):
            # Empty text is as missing as NULL for an operator. (Not trim(): on a million
            # rows it doubles the cost of the shared scan; `= ''` is a length check.)
            return or_(column.is_(None), column == "")
        return column.is_(None)

    def _target(self):
        via = self.related.c[self.check.via]
        for fk in via.foreign_keys:
            if fk.column.table is self.table:
                return self.table.c[fk.column.name]
        return self.pk[0]

    def _key(self, text: str):
        functions, name = parse_key(text)
        expression = self.table.c[name]
        for function in functions:
            expression = _FUNCTIONS[function](expression)
        return expression

    # -- duplicates ---------------------------------------------------------------
    def unique_reason(self) -> str | None:
        """Why duplicates are impossible (a unique constraint or index on the key), or None."""
        if self.check.kind != "duplicates" or len(self.check.key) != 1:
            return None
        functions, name = parse_key(self.check.key[0])
        if functions:
            return None
        if [c.name for c in self.table.primary_key.columns] == [name] and not self.entry.read_only:
            return f"'{name}' is the primary key"
        for constraint in self.table.constraints:
            if type(constraint).__name__ == "UniqueConstraint" and [c.name for c in constraint.columns] == [name]:
                return f"'{name}' has a unique constraint"
        for index in self.table.indexes:
            if index.unique and [getattr(c, "name", None) for c in index.expressions] == [name]:
                return f"'{name}' has a unique index"
        return None

    def _key_filter(self) -> list[ColumnElement]:
        # Rows with a NULL in any key part are never compared (NULL is "unknown", not equal).
        names = dict.fromkeys(parse_key(text)[1] for text in self.check.key)
        return [self.table.c[name].is_not(None) for name in names] + self.scope()

    def groups(self):
        """One row per duplicate group: k0..kn and its size n."""
        labelled = [key.label(f"k{i}") for i, key in enumerate(self.keys)]
        return (select(*labelled, func.count().label("n")).select_from(self.table).where(*self._key_filter())
                .group_by(*self.keys).having(func.count() > 1).subquery("dup_groups"))

    def group_summary(self, limit: int) -> Select:
        """The first ``limit`` groups, each carrying the total groups and rows (one scan)."""
        groups = self.groups()
        keys = [groups.c[f"k{i}"] for i in range(len(self.keys))]
        return (select(*keys, groups.c.n, func.count().over().label("all_groups"),
                       func.sum(groups.c.n).over().label("all_rows"))
                .order_by(*keys).limit(max(limit, 1)))

    def group_page(self, offset: int, limit: int) -> Select:
        groups = self.groups()
        keys = [groups.c[f"k{i}"] for i in range(len(self.keys))]
        return select(*keys, groups.c.n).order_by(*keys).offset(offset).limit(limit)

    def members(self, group_keys: list[tuple]) -> Select:
        """The rows of the given groups (key tuples as returned by the group queries)."""
        matches = [and_(*[key == value for key, value in zip(self.keys, values)]) for values in group_keys]
        labelled = [key.label(f"k{i}") for i, key in enumerate(self.keys)]
        return (select(*self.display_columns(), *labelled).where(or_(*matches), *self._key_filter())
                .order_by(*self.keys, *self.pk))

    def export(self) -> Select:
        """Every affected row, for the CSV export (duplicates: with their group key and size)."""
        if self.check.kind != "duplicates":
            return self.rows()
        groups = self.groups()
        keys = [groups.c[f"k{i}"] for i in range(len(self.keys))]
        joined = self.table.join(groups, and_(*[key == g for key, g in zip(self.keys, keys)]))
        return (select(*self.display_columns(), *keys, groups.c.n.label("group_size")).select_from(joined)
                .where(*self._key_filter()).order_by(*keys, *self.pk))

    # -- the others ---------------------------------------------------------------
    def count(self) -> Select:
        return select(func.count()).select_from(self.table).where(*self.scope(), self.condition())

    def rows(self, offset: int = 0, limit: int | None = None) -> Select:
        statement = (select(*self.display_columns()).where(*self.scope(), self.condition())
                     .order_by(*self.pk).offset(offset or None))
        return statement.limit(limit) if limit is not None else statement


def combined_counts(table, queries: list[CheckQueries]) -> Select:
    """One pass over ``table``: its row count and every given check's count
    (missing and stale checks of one table share a single scan)."""
    columns = [func.count().label("total")]
    for index, query in enumerate(queries):
        columns.append(func.count().filter(and_(*query.scope(), query.condition())).label(f"c{index}"))
    return select(*columns).select_from(table)
