"""What kind each relation is, and what its definition computes: one catalog query each.

PostgreSQL tells tables, partitioned tables, views, materialized views and foreign
tables apart in ``pg_class``; SQLite (3.37+) tells views, virtual tables (full-text
indexes and other modules) and their shadow tables apart in ``PRAGMA table_list``.
A view whose definition calls ``now()``, ``random()`` or the like gives its rows new
values on every read: such rows cannot be found again by their values.
"""
from __future__ import annotations

import re

from sqlalchemy import Engine

__all__ = ["relation_kinds", "view_definitions", "VOLATILE"]

#: PostgreSQL relkind -> kind shown in the report.
_PG_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view", "f": "foreign table"}


def _pg_kinds(engine: Engine, schemas: list[str | None]) -> dict[tuple[str | None, str], tuple[str, str | None]]:
    """One catalog query: (schema, name) -> (kind, parent table of a partition)."""
    with engine.connect() as conn:
        default = conn.exec_driver_sql("SELECT current_schema()").scalar()
        names = [s or default for s in schemas]
        rows = conn.exec_driver_sql(
            "SELECT n.nspname, c.relname, c.relkind, p.relname, c.relispopulated FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition "
            "LEFT JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname = ANY(%(names)s)",
            {"names": names},
        ).all()
    kinds = {}
    for nspname, relname, relkind, parent, populated in rows:
        schema = None if nspname == default and None in schemas else nspname
        kind = _PG_KINDS[relkind]
        kinds[(schema, relname)] = (kind if populated else kind + " (not populated)", parent)
    return kinds


def _sqlite_kinds(engine: Engine) -> dict[tuple[str | None, str], tuple[str, str | None]]:
    """(None, name) -> (kind, None): view, virtual table or shadow table (tables are the
    default). A ``WITHOUT ROWID`` table always declares a primary key: nothing to note."""
    kinds: dict[tuple[str | None, str], tuple[str, str | None]] = {}
    with engine.connect() as conn:
        try:
            rows = conn.exec_driver_sql("PRAGMA main.table_list").all()
        except Exception:  # SQLite before 3.37: read the schema's own text
            rows = [(None, name, "virtual" if (sql or "").upper().startswith("CREATE VIRTUAL") else kind)
                    for kind, name, sql in conn.exec_driver_sql(
                        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'view')")]
    for _schema, name, kind, *_rest in rows:
        if kind == "view":
            kinds[(None, name)] = ("view", None)
        elif kind == "virtual":
            kinds[(None, name)] = ("virtual table", None)
        elif kind == "shadow":
            kinds[(None, name)] = ("shadow table", None)
    return kinds


#: Functions and SQL value functions whose result changes from one read to the next:
#: a view computing one of them gives its rows a new identity on every read.
VOLATILE = re.compile(
    r"\b(?:now|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|random|randomblob|"
    r"gen_random_uuid|uuid_generate_v[14]|nextval|txid_current|pg_backend_pid)\s*\(|"
    r"\b(?:current_date|current_time|current_timestamp|localtime|localtimestamp)\b|'now'", re.I)


def view_definitions(engine: Engine, schemas: list[str | None]) -> dict[tuple[str | None, str], str]:
    """(schema, view name) -> its SQL text, to spot definitions that compute values anew."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return {(None, name): sql or "" for name, sql in conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'view'")}
        default = conn.exec_driver_sql("SELECT current_schema()").scalar()
        rows = conn.exec_driver_sql(
            "SELECT n.nspname, c.relname, pg_get_viewdef(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') "
            "AND n.nspname = ANY(%(names)s)", {"names": [s or default for s in schemas]}).all()
    return {(None if nsp == default and None in schemas else nsp, name): sql or "" for nsp, name, sql in rows}




def relation_kinds(engine: Engine, schemas: list[str | None]) -> dict[tuple[str | None, str], tuple[str, str | None]]:
    """(schema, name) -> (kind, parent table of a partition); tables may be left out (the default)."""
    return _pg_kinds(engine, schemas) if engine.dialect.name == "postgresql" else _sqlite_kinds(engine)
