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
import warnings
from dataclasses import dataclass, field

from sqlalchemy import Engine, MetaData, Table, event, inspect
from sqlalchemy import types as sqltypes
from sqlalchemy.exc import NoReferencedColumnError, NoReferencedTableError
from sqlalchemy.ext.automap import automap_base, interfaces

from models.kinds import VOLATILE, relation_kinds, view_definitions
from models.cycles import edges_on_cycles
from models.locating import identity_for
from models.own import OWN_PREFIX

__all__ = ["Reflection", "ReflectedTable", "reflect", "python_identifier", "RESERVED_ATTRIBUTES"]

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

_UNKNOWN_TYPE = re.compile(r"Did not recognize type '([^']+)' of column '([^']+)'")



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
    #: How a row is found again from its link: "primary key", "unique key", "rowid",
    #: "ctid", "all columns"; and whether that works at all (a view computing now()
    #: gives every row a new identity on every read: its details are shown in the list).
    locator: str = "primary key"
    locatable: bool = True
    #: The model's relationships (all many-to-one): name -> its local SQL column names. The
    #: same as the mapper's, known without configuring the mappers (which SQLAlchemy does for
    #: the whole schema at once, about a second at 500 tables): start-up reads these.
    relations: dict[str, tuple[str, ...]] = field(default_factory=dict)

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


def python_identifier(text: str) -> str:
    """A Python identifier for any SQL name (class and attribute names)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"\W+", "_", ascii_text).strip("_") or "t"
    if cleaned[0].isdigit() or keyword.iskeyword(cleaned):
        cleaned = "t_" + cleaned
    return cleaned


def _attribute(name: str, taken) -> str:
    """A safe, unique attribute name for column ``name``: the name itself when possible."""
    key = name if name.isidentifier() and name.isascii() else python_identifier(name)
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
        return _unique(taken, local_cls, python_identifier(stem))

    return name_scalar


def _unique(taken: dict[type, set[str]], cls: type, name: str) -> str:
    used = taken.setdefault(cls, {c.key for c in cls.__table__.columns})
    if name in RESERVED_ATTRIBUTES or name in used or hasattr(_Row, name):
        name += "_ref"
    while name in used:
        name += "_"
    used.add(name)
    return name


def _only_many_to_one(cycles: set[tuple[str, str]], made: dict[type, dict[str, tuple[str, ...]]]):
    def generate(base, direction, return_fn, attrname, local_cls, referred_cls, **kw):
        """Skip collections and many-to-many: link tables keep their own screens, and
        forms never load whole child tables into multi-selects. A reference on a cycle
        is written after the rows it links (post_update), or saving a row that points at
        itself fails with "Circular dependency detected"."""
        if direction is not interfaces.MANYTOONE:
            return None
        kw.pop("backref", None)
        if (local_cls.__table__.key, referred_cls.__table__.key) in cycles:
            kw["post_update"] = True
        made.setdefault(local_cls, {})[attrname] = tuple(column.name for column in kw.get("foreign_keys", ()))
        return return_fn(referred_cls, **kw)

    return generate


def reflect(engine: Engine, schemas: tuple[str, ...] = ()) -> Reflection:
    """Reflect the default schema plus ``schemas`` (PostgreSQL) into mapped classes."""
    metadata = MetaData()
    event.listen(metadata, "column_reflect", _column_reflect)
    all_schemas: list[str | None] = [None, *schemas]
    unknown_types: dict[str, str] = {}
    for schema in all_schemas:
        with warnings.catch_warnings(record=True) as caught:
            # A type SQLAlchemy does not know (xml, money, a custom base type) is reflected as
            # NullType with a warning; the relation's notes say it instead (see below).
            warnings.simplefilter("always")
            metadata.reflect(
                engine, schema=schema, views=True, resolve_fks=False,
                only=lambda name, _meta: not name.startswith(OWN_PREFIX),
            )
        for warning in caught:
            if found := _UNKNOWN_TYPE.search(str(warning.message)):
                unknown_types.setdefault(found.group(2), found.group(1))
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    kinds = relation_kinds(engine, all_schemas)
    definitions = view_definitions(engine, all_schemas)

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
        if engine.dialect.name != "sqlite":
            for column in table.columns:
                if isinstance(column.type, sqltypes.NullType):
                    entry.notes.append(f"column {column.name}: type {unknown_types.get(column.name, 'unknown')} is "
                                       "not known to SQLAlchemy: shown as the database writes it, never edited")
        for column, domain in table.info.get("domains", {}).items():
            entry.notes.append(f"column {column}: domain {domain}; the database checks its constraints")
        _drop_unresolved_foreign_keys(table, entry.notes)
        volatile = VOLATILE.search(definitions.get((table.schema, table.name), ""))
        identity_for(entry, volatile.group(0).strip("( ") if volatile and kind == "view" else None)
        if kind in ("view", "materialized view"):
            entry.read_only = True
            entry.notes.append(f"read-only: a {kind} is not written through the console")
        elif kind == "partitioned table" and not entry.read_only:
            entry.read_only = True
            entry.notes.append("read-only: partitioned parent; rows are edited in their partitions")
        elif kind == "virtual table":
            entry.read_only = True
            entry.notes.append("read-only: a virtual table (full-text index or other module) is written by its "
                               "module or by the table it indexes")
        elif kind == "shadow table":
            entry.read_only = True
            entry.notes.append("read-only: a shadow table holds a virtual table's internals; SQLite maintains it")
        entries[screen] = entry

    Base = automap_base(cls=_Row, metadata=metadata)
    used: set[str] = set()
    for screen, entry in entries.items():
        # Declared up front so automap cannot skip it: views, tables without a primary
        # key and link tables (which automap would turn into a bare many-to-many).
        class_name = python_identifier(screen)
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
    made: dict[type, dict[str, tuple[str, ...]]] = {}
    Base.prepare(
        name_for_scalar_relationship=_relationship_namer(taken),
        name_for_collection_relationship=lambda _b, local_cls, referred_cls, constraint: _unique(
            taken, local_cls, python_identifier(referred_cls.__table__.name + "_rows")),
        generate_relationship=_only_many_to_one(edges_on_cycles(metadata), made),
    )
    for entry in entries.values():
        entry.relations = made.get(entry.model, {})
    return Reflection(tables=entries, metadata=metadata, dialect=engine.dialect.name)
