"""Reflect the target database into mapped classes, one per table or view.

Automap alone skips views and tables without a primary key silently; here every
relation gets a class. Where no primary key exists, one is chosen and the screen
is read-only; every such decision is written into the relation's ``notes`` so the
reflection report can show it.
"""
from __future__ import annotations

import keyword
import logging
import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import Engine, MetaData, Table, inspect
from sqlalchemy.ext.automap import automap_base

from .own import OWN_PREFIX

__all__ = ["Reflection", "ReflectedTable", "reflect"]

log = logging.getLogger(__name__)


@dataclass
class ReflectedTable:
    """One table or view of the target database and how the console exposes it."""

    name: str
    schema: str | None
    kind: str  # "table", "view", "materialized view", "partitioned table"
    table: Table
    model: type | None = None
    primary_key: tuple[str, ...] = ()
    read_only: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    @property
    def exposure(self) -> str:
        return "read-only" if self.read_only else "CRUD"


@dataclass
class Reflection:
    """Everything reflected from one database, keyed by screen name."""

    tables: dict[str, ReflectedTable]
    metadata: MetaData
    dialect: str

    def by_table(self, table: Table) -> ReflectedTable | None:
        for entry in self.tables.values():
            if entry.table is table:
                return entry
        return None


def _identifier(text: str) -> str:
    """A Python identifier for any SQL name (class and attribute names)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"\W+", "_", ascii_text).strip("_") or "t"
    if cleaned[0].isdigit() or keyword.iskeyword(cleaned):
        cleaned = "t_" + cleaned
    return cleaned


def _kinds(engine: Engine, schema: str | None) -> dict[str, str]:
    inspector = inspect(engine)
    kinds = {name: "view" for name in inspector.get_view_names(schema=schema)}
    if engine.dialect.name == "postgresql":
        kinds.update({name: "materialized view" for name in inspector.get_materialized_view_names(schema=schema)})
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'p' AND n.nspname = COALESCE(%(schema)s, current_schema())",
                {"schema": schema},
            ).all()
        kinds.update({row[0]: "partitioned table" for row in rows})
    return kinds


def reflect(engine: Engine, schemas: tuple[str, ...] = ()) -> Reflection:
    """Reflect the default schema plus ``schemas`` (PostgreSQL) into mapped classes."""
    metadata = MetaData()
    kinds: dict[tuple[str | None, str], str] = {}
    for schema in (None, *schemas):
        metadata.reflect(
            engine, schema=schema, views=True, resolve_fks=False,
            only=lambda name, _meta: not name.startswith(OWN_PREFIX),
        )
        kinds.update({(schema, name): kind for name, kind in _kinds(engine, schema).items()})

    entries: dict[str, ReflectedTable] = {}
    names = [t.name for t in metadata.tables.values()]
    for table in sorted(metadata.tables.values(), key=lambda t: (t.schema or "", t.name)):
        kind = kinds.get((table.schema, table.name), "table")
        screen = table.name if names.count(table.name) == 1 or table.schema is None else f"{table.schema}.{table.name}"
        entry = ReflectedTable(name=table.name, schema=table.schema, kind=kind, table=table)
        pk = [c.name for c in table.primary_key.columns]
        if pk:
            entry.primary_key = tuple(pk)
        else:
            entry.primary_key = tuple(c.name for c in table.columns)
            entry.read_only = True
            entry.notes.append("no primary key: rows are identified by all their columns; read-only")
        if kind in ("view", "materialized view"):
            entry.read_only = True
            entry.notes.append(f"{kind}: read-only")
        entries[screen] = entry

    Base = automap_base(metadata=metadata)
    used: set[str] = set()
    for screen, entry in entries.items():
        # Declared up front so automap cannot skip it: views, tables without a primary
        # key and link tables (which automap would turn into a bare many-to-many).
        class_name = _identifier(screen)
        while class_name in used:
            class_name += "_"
        used.add(class_name)
        columns = [entry.table.c[name] for name in entry.primary_key]
        entry.model = type(
            class_name, (Base,),
            {"__table__": entry.table, "__mapper_args__": {"primary_key": columns}},
        )
    Base.prepare(
        name_for_scalar_relationship=lambda _b, _l, referred, constraint: _identifier(
            "_".join(c.name for c in constraint.columns) + "_" + referred.__table__.name + "_ref"),
        name_for_collection_relationship=lambda _b, _l, referred, constraint: _identifier(
            referred.__table__.name + "_by_" + "_".join(c.name for c in constraint.columns)),
    )
    return Reflection(tables=entries, metadata=metadata, dialect=engine.dialect.name)
