"""Reflect the target database into mapped classes, one per table or view.

Automap alone skips views and tables without a primary key silently; here every
relation gets a class. Where no primary key exists, one is chosen and the screen
is read-only; every such decision is written into the relation's ``notes`` so the
reflection report can show it. Reflection is batched: one ``MetaData.reflect``
per schema (SQLAlchemy 2 reflects all tables of a schema in a few catalog
queries on PostgreSQL) plus one catalog query for the kinds of relations.
"""
from __future__ import annotations

import keyword
import logging
import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import Engine, MetaData, Table, event, inspect
from sqlalchemy import types as sqltypes
from sqlalchemy.exc import NoReferencedColumnError, NoReferencedTableError
from sqlalchemy.ext.automap import automap_base, interfaces

from models.own import OWN_PREFIX

__all__ = ["Reflection", "ReflectedTable", "reflect", "RESERVED_ATTRIBUTES"]

log = logging.getLogger(__name__)

#: Column names that cannot be mapped attributes or form fields under their own
#: name: declarative's own attributes and what WTForms / Flask-WTF forms define.
#: Such columns are mapped as ``<name>_`` (the label keeps the real name).
RESERVED_ATTRIBUTES = frozenset({
    "metadata", "registry", "query", "query_class", "meta", "Meta", "data", "errors", "form_errors",
    "process", "populate_obj", "validate", "validate_on_submit", "hidden_tag", "is_submitted",
    "csrf_token", "extra_validators",
})

_LABEL_NAMES = ("name", "title", "label", "display_name", "full_name", "username", "email", "code")

#: PostgreSQL relkind -> kind shown in the report.
_PG_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view", "f": "foreign table"}


@dataclass
class ReflectedTable:
    """One table or view of the target database and how the console exposes it."""

    name: str
    schema: str | None
    kind: str  # "table", "view", "materialized view", "partitioned table", "foreign table"
    table: Table
    model: type | None = None
    primary_key: tuple[str, ...] = ()  # SQL column names identifying a row
    read_only: bool = False
    notes: list[str] = field(default_factory=list)
    partition_of: str | None = None
    dialect: str = ""

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    @property
    def exposure(self) -> str:
        return "read-only" if self.read_only else "CRUD"

    def key(self, column: str) -> str:
        """The mapped attribute (and form field) name of SQL column ``column``."""
        return self.table.c[column].key if column in self.table.c else \
            next(c.key for c in self.table.columns if c.name == column)

    @property
    def primary_key_attributes(self) -> tuple[str, ...]:
        return tuple(self.key(name) for name in self.primary_key)


@dataclass
class Reflection:
    """Everything reflected from one database, keyed by screen name."""

    tables: dict[str, ReflectedTable]
    metadata: MetaData
    dialect: str

    def __post_init__(self) -> None:
        # Link cells look their target up on every row rendered: keep it a dict lookup.
        self._screens = {entry.table.key: screen for screen, entry in self.tables.items()}

    def by_table(self, table: Table) -> ReflectedTable | None:
        screen = self.screen_of(table)
        return self.tables[screen] if screen is not None else None

    def screen_of(self, table: Table) -> str | None:
        screen = self._screens.get(table.key)
        return screen if screen is not None and self.tables[screen].table is table else None


def _identifier(text: str) -> str:
    """A Python identifier for any SQL name (class and attribute names)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"\W+", "_", ascii_text).strip("_") or "t"
    if cleaned[0].isdigit() or keyword.iskeyword(cleaned):
        cleaned = "t_" + cleaned
    return cleaned


def _attribute(name: str, taken) -> str:
    """A safe, unique attribute name for column ``name``: the name itself when possible."""
    key = name if name.isidentifier() and name.isascii() else _identifier(name)
    if key in RESERVED_ATTRIBUTES or keyword.iskeyword(key) or key.startswith("_"):
        key = key.lstrip("_") + "_"
    while key in taken:
        key += "_"
    return key


def _column_reflect(_inspector, table: Table, info: dict) -> None:
    """Give awkward columns a safe attribute key and unwrap domains to their base type."""
    info["key"] = _attribute(info["name"], {c.key for c in table.columns})
    domain = info["type"]
    if type(domain).__name__ == "DOMAIN" and getattr(domain, "data_type", None) is not None:
        # The database enforces the domain's checks; the console edits the base type.
        info["type"] = domain.data_type
        info.setdefault("comment", None)
        table.info.setdefault("domains", {})[info["name"]] = f"{domain.name} over {domain.data_type}"


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
    return {(None, name): ("view", None) for name in inspect(engine).get_view_names()}


def _drop_unresolved_foreign_keys(table: Table, notes: list[str]) -> None:
    """FKs to relations that were not reflected (other schemas) become plain values."""
    for constraint in list(table.foreign_key_constraints):
        try:
            for element in constraint.elements:
                element.column  # noqa: B018  (resolves the target or raises)
        except (NoReferencedTableError, NoReferencedColumnError):
            target = constraint.elements[0].target_fullname.rsplit(".", 1)[0]
            notes.append(f"foreign key ({', '.join(constraint.column_keys)}) -> {target}: "
                         "target not reflected, shown as a plain value")
            table.constraints.discard(constraint)
            for element in constraint.elements:
                element.parent.foreign_keys.discard(element)
                table.foreign_keys.discard(element)


def _comparable(column) -> bool:
    """Can this column identify rows? It needs SQL equality and a hashable Python value
    (json, arrays and unknown types have one or the other missing)."""
    kind = column.type
    return not (isinstance(kind, (sqltypes.JSON, sqltypes.ARRAY, sqltypes.NullType))
                or type(kind).__name__ in ("JSON", "JSONB", "XML"))


def _identity_for(entry: ReflectedTable) -> None:
    """Choose the columns that identify a row; record the decision."""
    table = entry.table
    pk = [c.name for c in table.primary_key.columns]
    if pk:
        entry.primary_key = tuple(pk)
        return
    uniques = [c for c in table.constraints if c.__class__.__name__ == "UniqueConstraint"]
    uniques += [i for i in table.indexes if i.unique]
    for unique in uniques:
        cols = list(unique.columns)
        if cols and all(not c.nullable for c in cols):
            entry.primary_key = tuple(c.name for c in cols)
            entry.notes.append(f"no primary key: rows identified by unique key ({', '.join(entry.primary_key)})")
            break
    else:
        usable = [c.name for c in table.columns if _comparable(c)]
        entry.primary_key = tuple(usable or [c.name for c in table.columns])
        skipped = [c.name for c in table.columns if c.name not in usable]
        entry.notes.append("no primary key: rows identified by all their columns"
                           + (f" except {', '.join(skipped)} (json/array: not usable as a key)" if skipped else "")
                           + "; rows with NULL in those columns have no detail page")
    if entry.kind in ("table", "foreign table"):
        entry.read_only = True
        entry.notes.append("read-only: a table without a primary key has no safe way to address one row")


class _Row:
    """Base of every mapped class: a readable ``__str__`` for select boxes and links."""

    __label_keys__: tuple[str, ...] = ()

    def __str__(self) -> str:
        mapper = inspect(type(self))
        ident = ", ".join(str(value) for value in mapper.primary_key_from_instance(self))
        text = " ".join(str(v).strip() for k in self.__label_keys__ if (v := getattr(self, k, None)) is not None)
        return f"{text} (#{ident})" if text else f"{type(self).__name__} #{ident}"


def _label_keys(table: Table) -> tuple[str, ...]:
    """Columns that make a row recognisable: name/title/..., else first and last name, else a text column."""
    by_lower = {c.name.lower(): c for c in table.columns}
    for wanted in _LABEL_NAMES:
        if wanted in by_lower:
            return (by_lower[wanted].key,)
    first = next((by_lower[n] for n in ("first_name", "firstname") if n in by_lower), None)
    last = next((by_lower[n] for n in ("last_name", "lastname") if n in by_lower), None)
    if first is not None and last is not None:
        return (first.key, last.key)
    for column in table.columns:
        if isinstance(column.type, sqltypes.String) and not column.primary_key and not column.foreign_keys:
            return (column.key,)
    return ()


def _relationship_namer(taken: dict[type, set[str]]):
    def name_scalar(_base, local_cls, referred_cls, constraint) -> str:
        cols = [c.name for c in constraint.columns]
        # language_id -> language, ArtistId -> Artist; otherwise columns + referred table
        single = cols[0] if len(cols) == 1 else ""
        if single.lower().endswith("_id") and len(single) > 3:
            stem = single[:-3]
        elif single.endswith("Id") and len(single) > 2:
            stem = single[:-2]
        else:
            stem = "_".join(cols) + "_" + referred_cls.__table__.name
        return _unique(taken, local_cls, _identifier(stem))

    return name_scalar


def _unique(taken: dict[type, set[str]], cls: type, name: str) -> str:
    used = taken.setdefault(cls, {c.key for c in cls.__table__.columns})
    if name in RESERVED_ATTRIBUTES or name in used or hasattr(_Row, name):
        name += "_ref"
    while name in used:
        name += "_"
    used.add(name)
    return name


def _only_many_to_one(base, direction, return_fn, attrname, local_cls, referred_cls, **kw):
    """Skip collections and many-to-many: link tables keep their own screens, and
    forms never load whole child tables into multi-selects."""
    if direction is not interfaces.MANYTOONE:
        return None
    kw.pop("backref", None)
    return return_fn(referred_cls, **kw)


def reflect(engine: Engine, schemas: tuple[str, ...] = ()) -> Reflection:
    """Reflect the default schema plus ``schemas`` (PostgreSQL) into mapped classes."""
    metadata = MetaData()
    event.listen(metadata, "column_reflect", _column_reflect)
    all_schemas: list[str | None] = [None, *schemas]
    for schema in all_schemas:
        metadata.reflect(
            engine, schema=schema, views=True, resolve_fks=False,
            only=lambda name, _meta: not name.startswith(OWN_PREFIX),
        )
    kinds = _pg_kinds(engine, all_schemas) if engine.dialect.name == "postgresql" else _sqlite_kinds(engine)

    entries: dict[str, ReflectedTable] = {}
    names = [t.name for t in metadata.tables.values()]
    for table in sorted(metadata.tables.values(), key=lambda t: (t.schema or "", t.name)):
        kind, parent = kinds.get((table.schema, table.name), ("table", None))
        if kind.endswith(" (not populated)"):
            kind = kind.removesuffix(" (not populated)")
            notes_first = ["not populated (created WITH NO DATA): its list stays empty until "
                           "REFRESH MATERIALIZED VIEW"]
        else:
            notes_first = []
        screen = table.name if names.count(table.name) == 1 or table.schema is None else f"{table.schema}.{table.name}"
        entry = ReflectedTable(name=table.name, schema=table.schema, kind=kind, table=table, partition_of=parent,
                                dialect=engine.dialect.name, notes=notes_first)
        if parent:
            entry.notes.append(f"partition of {parent}")
        for column, domain in table.info.get("domains", {}).items():
            entry.notes.append(f"column {column}: domain {domain}; the database checks its constraints")
        _drop_unresolved_foreign_keys(table, entry.notes)
        _identity_for(entry)
        if kind in ("view", "materialized view"):
            entry.read_only = True
            entry.notes.append(f"read-only: a {kind} is not written through the console")
        elif kind == "partitioned table":
            entry.read_only = True
            entry.notes.append("read-only: partitioned parent; rows are edited in their partitions")
        entries[screen] = entry

    Base = automap_base(cls=_Row, metadata=metadata)
    used: set[str] = set()
    for screen, entry in entries.items():
        # Declared up front so automap cannot skip it: views, tables without a primary
        # key and link tables (which automap would turn into a bare many-to-many).
        class_name = _identifier(screen)
        while class_name in used:
            class_name += "_"
        used.add(class_name)
        columns = [entry.table.c[entry.key(name)] for name in entry.primary_key]
        entry.model = type(class_name, (Base,), {
            "__table__": entry.table,
            "__mapper_args__": {"primary_key": columns},
            "__label_keys__": _label_keys(entry.table),
        })
    taken: dict[type, set[str]] = {}
    Base.prepare(
        name_for_scalar_relationship=_relationship_namer(taken),
        name_for_collection_relationship=lambda _b, local_cls, referred_cls, constraint: _unique(
            taken, local_cls, _identifier(referred_cls.__table__.name + "_rows")),
        generate_relationship=_only_many_to_one,
    )
    return Reflection(tables=entries, metadata=metadata, dialect=engine.dialect.name)
