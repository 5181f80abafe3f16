"""Which indexes the console's own work needs on large tables, and which are missing.

The console knows what it asks of each table: the declarative file's ``sort``,
``sortable``, ``filters``, ``search`` and ``fulltext`` per screen, and the keys and
joins of the catalog-health checks. Each becomes a :class:`Need`: the index that
would serve it (btree, expression, trigram GIN, full-text GIN) and the operation
it speeds up. A need counts as met when an index of the right kind already leads
with the right column or expression (read from ``pg_index``, expressions as
PostgreSQL itself prints them); a failed ``CREATE INDEX CONCURRENTLY`` leaves an
invalid index, which serves nothing and is reported.

Only large tables are considered (planner estimate at or over ``min_rows``): on a
small table a full scan costs less than the index would. Advice is for PostgreSQL,
whose statistics tell which tables are large; SQLite gets none.

Layer: above :mod:`backoffice.catalog` (it reads the health checks' keys).
"""
from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, String, literal, text
from sqlalchemy.dialects import postgresql

from backoffice.catalog.checks import parse_key

__all__ = ["Need", "ExistingIndex", "TableAdvice", "collect_needs", "existing_indexes", "missing", "table_rows",
           "quote_name", "MIN_ROWS"]

#: Tables with fewer (estimated) rows get no advice: the list pages count them exactly.
MIN_ROWS = 100_000
_PG = postgresql.dialect()
_EXPRESSIONS = {"lower": "lower({})", "upper": "upper({})", "trim": "TRIM(BOTH FROM {})",
                "year": "EXTRACT(year FROM {})"}


def quote_name(name: str) -> str:
    return _PG.identifier_preparer.quote(name)


def _normal(expression: str) -> str:
    """An index key as PostgreSQL prints it, reduced so equal expressions compare equal."""
    return re.sub(r"[\s()\"]", "", expression).lower()


@dataclass
class Need:
    """One index the console's work would use on ``table`` (a reflected entry)."""

    entry: Any
    kind: str  # btree | expression | trigram | fulltext | coverage
    keys: tuple[str, ...]  # column names, or expressions as PostgreSQL prints them
    operation: str  # what it speeds up, for the operator
    where: str | None = None  # partial index predicate
    include: tuple[str, ...] = ()
    check: str | None = None  # the health check it serves (measured by running the check)
    column: str | None = None  # screens: the column searched, sorted or filtered
    conditions: tuple[str, ...] = ()  # coverage: the related rows' condition columns
    words: str | None = None  # what the index name says, when the keys would make it unreadable

    @property
    def table(self) -> str:
        return self.entry.qualified_name

    @property
    def name(self) -> str:
        """A stable index name (PostgreSQL's 63-byte limit kept with a digest)."""
        suffix = {"trigram": "_trgm", "fulltext": "_fts", "coverage": "_cov", "expression": "_expr"}.get(self.kind, "")
        words = self.words or "_".join(k for k in self.keys)
        name = "ix_" + re.sub(r"[^a-z0-9]+", "_", f"{self.entry.name}_{words}".lower()).strip("_") + suffix
        if len(name) > 63:
            digest = hashlib.sha1(name.encode()).hexdigest()[:8]
            name = f"{name[:54]}_{digest}"
        return name

    def statement(self) -> str:
        """The exact ``CREATE INDEX CONCURRENTLY`` statement."""
        target = (f"{quote_name(self.entry.schema)}." if self.entry.schema else "") + quote_name(self.entry.name)
        if self.kind == "trigram":
            body = f"USING gin ({quote_name(self.keys[0])} gin_trgm_ops)"
        elif self.kind == "fulltext":
            body = f"USING gin ({quote_name(self.keys[0])})"
        elif self.kind == "expression":
            body = "(" + ", ".join(f"({k})" for k in self.keys) + ")"
        else:
            body = "(" + ", ".join(quote_name(k) for k in self.keys) + ")"
        if self.include:
            body += " INCLUDE (" + ", ".join(quote_name(c) for c in self.include) + ")"
        if self.where:
            body += f" WHERE {self.where}"
        return f"CREATE INDEX CONCURRENTLY {quote_name(self.name)} ON {target} {body}"

    @property
    def needs_trigram(self) -> bool:
        return self.kind == "trigram"


@dataclass
class ExistingIndex:
    """An index as ``pg_index`` describes it."""

    name: str
    method: str
    valid: bool
    keys: list[str]
    opclasses: list[str]
    predicate: str | None = None

    def serves(self, need: Need) -> bool:
        if not self.valid or not self.keys:
            return False
        first = _normal(self.keys[0])
        if need.kind in ("trigram", "fulltext"):
            wanted = ("gin", "gist")
            trigram = any(op.endswith("_trgm_ops") for op in self.opclasses[:1])
            return (self.method in wanted and first == _normal(need.keys[0])
                    and (trigram if need.kind == "trigram" else not trigram))
        if self.method != "btree":
            return False
        if need.kind == "btree":
            return self.predicate is None and first == _normal(need.keys[0])
        if need.kind == "expression":
            mine = [_normal(k) for k in self.keys[:len(need.keys)]]
            return mine == [_normal(k) for k in need.keys]
        if need.kind == "coverage":
            # A partial index on the pointing column whose predicate names the conditions,
            # or one that leads with the condition columns then the pointing column.
            via = _normal(need.keys[0])
            if not need.conditions:
                return first == via
            if first == via and self.predicate and all(c in self.predicate for c in need.conditions):
                return True
            wanted = [_normal(k) for k in (*need.conditions, need.keys[0])]
            return [_normal(k) for k in self.keys[:len(wanted)]] == wanted
        return False


@dataclass
class TableAdvice:
    """The needs of one large table and which of them are missing."""

    entry: Any
    rows: int
    needs: list[Need] = field(default_factory=list)
    missing: list[Need] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def _views(declarations: Any, screens: list[str]) -> dict[str, dict]:
    """Screen -> declared options, patterns first then the screen's own entry (as the screens do)."""
    views = declarations.views if isinstance(getattr(declarations, "views", None), dict) else {}
    patterns = [(k, v) for k, v in views.items() if any(ch in k for ch in "*?[") and isinstance(v, dict)]
    result = {}
    for screen in screens:
        spec: dict = {}
        for key, entry in patterns:
            if fnmatch.fnmatchcase(screen, key):
                spec.update(entry)
        if isinstance(views.get(screen), dict):
            spec.update(views[screen])
        result[screen] = spec
    return result


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def collect_needs(reflection: Any, declarations: Any, checks: list[Any]) -> list[Need]:
    """Every index the screens and the health checks would use, large tables or not."""
    needs: list[Need] = []
    for screen, spec in _views(declarations, list(reflection.tables)).items():
        entry = reflection.tables[screen]
        if entry.kind == "view" or spec.get("hidden") is True:
            continue
        columns = entry.table.c
        pk = [c.name for c in entry.table.primary_key.columns]

        def add(kind: str, column: str, operation: str) -> None:
            if column not in columns or (kind == "btree" and pk[:1] == [column]):
                return
            # A trigram index serves text; a number searched as text would need an expression index.
            if kind == "trigram" and not isinstance(columns[column].type, String):
                return
            needs.append(Need(entry, kind, (column,), operation, column=column))

        sort = _names(spec.get("sort"))
        if sort:
            add("btree", sort[0].lstrip("-"), f"the list's default order ({sort[0]})")
        for column in _names(spec.get("sortable")):
            add("btree", column, f"sorting the list by {column}")
        for column in _names(spec.get("filters")):
            add("btree", column, f"filtering the list by {column}")
        for column in _names(spec.get("search")):
            add("trigram", column, f"searching {column} (contains, case-insensitive)")
        if isinstance(spec.get("fulltext"), str):
            add("fulltext", spec["fulltext"], f"full-text search on {spec['fulltext']}")
    for check in checks:
        entry = reflection.tables.get(check.table)
        if entry is None or entry.kind == "view":
            continue
        if check.kind == "duplicates":
            keys, raw = [], []
            for key in check.key:
                functions, column = parse_key(key)
                expression = quote_name(column)
                for function in functions:
                    expression = _EXPRESSIONS[function].format(expression)
                keys.append(expression)
                raw.append(column)
            raw = list(dict.fromkeys(raw))
            if all(k == quote_name(c) for k, c in zip(keys, raw)) and len(keys) == 1:
                needs.append(Need(entry, "btree", (raw[0],), f"health check {check.name} (duplicates)",
                                  check=check.name, column=raw[0]))
                continue
            where = " AND ".join(f"{quote_name(c)} IS NOT NULL" for c in raw)
            needs.append(Need(entry, "expression", tuple(keys), f"health check {check.name} (duplicate groups)",
                              where=where, include=tuple(raw), check=check.name, words="_".join(raw)))
        elif check.kind == "coverage" and check.via:
            related = reflection.tables.get(check.related)
            if related is None or related.kind == "view":
                continue
            conditions = [(name, value) for name, value in check.where]
            where = " AND ".join(_condition(name, value) for name, value in conditions) or None
            values = "_".join(str(v) for _n, value in conditions for v in (value if isinstance(value, tuple)
                                                                            else (value,)))
            needs.append(Need(related, "coverage", (check.via,),
                              f"health check {check.name} (rows of {check.table} without {check.related})",
                              where=where, check=check.name, conditions=tuple(n for n, _v in conditions),
                              words=f"{check.via}_{values}" if values else None))
    unique: dict[tuple, Need] = {}
    for need in needs:
        unique.setdefault((need.table, need.kind, need.keys, need.where), need)
    return list(unique.values())


def _condition(name: str, value: Any) -> str:
    if isinstance(value, tuple):
        values = ", ".join(_literal(v) for v in value)
        return f"{quote_name(name)} IN ({values})"
    return f"{quote_name(name)} = {_literal(value)}"


def _literal(value: Any) -> str:
    return str(literal(value).compile(dialect=_PG, compile_kwargs={"literal_binds": True}))


def table_rows(conn: Connection, entry: Any) -> int:
    """The planner's row estimate (``pg_class.reltuples``; -1 when never analysed: counted)."""
    name = (f"{quote_name(entry.schema)}." if entry.schema else "") + quote_name(entry.name)
    estimate = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:n)"), {"n": name}).scalar()
    if estimate is None or estimate < 0:
        return int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar() or 0)
    return int(estimate)


_INDEXES = text("""
SELECT c.relname AS name, am.amname AS method, i.indisvalid AS valid,
       pg_get_expr(i.indpred, i.indrelid) AS predicate,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) AS k
             ORDER BY k) AS keys,
       ARRAY(SELECT o.opcname FROM unnest(i.indclass) WITH ORDINALITY AS u(oid, n)
             JOIN pg_opclass o ON o.oid = u.oid ORDER BY u.n) AS opclasses
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
WHERE i.indrelid = to_regclass(:table)
""")


def existing_indexes(conn: Connection, entry: Any) -> list[ExistingIndex]:
    name = (f"{quote_name(entry.schema)}." if entry.schema else "") + quote_name(entry.name)
    return [ExistingIndex(r.name, r.method, r.valid, list(r.keys), list(r.opclasses), r.predicate)
            for r in conn.execute(_INDEXES, {"table": name})]


def missing(conn: Connection, needs: list[Need], *, min_rows: int = MIN_ROWS) -> list[TableAdvice]:
    """Per large table, its needs and those no valid index serves (PostgreSQL only)."""
    by_table: dict[str, TableAdvice] = {}
    for need in needs:
        advice = by_table.get(need.table)
        if advice is None:
            advice = by_table[need.table] = TableAdvice(need.entry, table_rows(conn, need.entry))
        advice.needs.append(need)
    result = []
    for advice in by_table.values():
        if advice.rows < min_rows:
            continue
        indexes = existing_indexes(conn, advice.entry)
        advice.invalid = [i.name for i in indexes if not i.valid]
        advice.missing = [n for n in advice.needs if not any(i.serves(n) for i in indexes)]
        result.append(advice)
    return result
