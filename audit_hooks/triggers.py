"""Writes the console cannot see: triggers of the target schema that write other tables.

A trigger on a reflected table that inserts, updates or deletes rows of another
table changes rows with no audit row of their own (the database does it inside the
console's statement). They cannot be audited from here; they are listed, table by
table, in the schema report (/admin/schema-report/) so nobody mistakes them for
audited changes.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import Engine, text

from audit_hooks.guard import dml_targets

__all__ = ["SchemaTrigger", "schema_triggers"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchemaTrigger:
    """One trigger of a reflected table and the tables its body writes."""

    table: str  # the reflected table's screen name
    name: str
    writes: tuple[str, ...]  # "op table", e.g. "insert movie_history"


def _pg(connection) -> list[tuple[str | None, str, str, str]]:
    return connection.execute(text(
        "SELECT n.nspname, c.relname, t.tgname, p.prosrc FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE NOT t.tgisinternal")).all()


def _sqlite(connection) -> list[tuple[str | None, str, str, str]]:
    # only the body: the header's "AFTER UPDATE ON t" is not a write
    return [(None, table, name, re.split(r"\bbegin\b", sql or "", maxsplit=1, flags=re.IGNORECASE)[-1])
            for table, name, sql in connection.execute(text(
                "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'"))]


def schema_triggers(engine: Engine, reflection) -> dict[str, list[SchemaTrigger]]:
    """Screen name -> the triggers on that table that write another table (or itself again)."""
    screens = {(entry.schema, entry.name): screen for screen, entry in reflection.tables.items()}
    default = {}
    found: dict[str, list[SchemaTrigger]] = {}
    try:
        with engine.connect() as connection:
            rows = _pg(connection) if engine.dialect.name == "postgresql" else _sqlite(connection)
            if engine.dialect.name == "postgresql":
                default = connection.execute(text("SELECT current_schema()")).scalar()
    except Exception as exc:  # the report is informative; a catalog we cannot read must not stop start-up
        log.warning("could not list the schema's triggers: %s", exc)
        return {}
    for schema, table, name, body in rows:
        screen = screens.get((None if schema == default else schema, table)) or screens.get((schema, table))
        if screen is None:
            continue
        writes = tuple(dict.fromkeys(f"{op} {f'{s}.' if s else ''}{t}" for op, s, t in dml_targets(body)))
        if writes:
            found.setdefault(screen, []).append(SchemaTrigger(screen, name, writes))
    return found
