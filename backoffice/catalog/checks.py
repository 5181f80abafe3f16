"""Catalog-health checks as declarations: the four kinds, the movie defaults, validation.

A check is data (:class:`HealthCheck`), never code. The movie checks below are the
*default declarations*, written exactly as a maintainer would write them in the
declarative file's ``[health.<name>]`` entries. Rules for the file:

- a new name adds a check (on any reflected table or view);
- a default's name layers the entry over that default (``days = 90`` is enough to
  change ``stale_tmdb``; a different ``kind`` replaces it entirely);
- ``enabled = false`` switches a check off, default or not.

Defaults whose tables or columns the database lacks are left out silently (the
console also runs on schemas that are not a movie catalog); a maintainer's own
entries are validated strictly, every problem reported at start-up.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..declarations import (
    PROBLEM_IDS,
    Declarations,
    Option,
    Problem,
    declare_options,
    did_you_mean,
    problem,
    register_check,
)

__all__ = ["HealthCheck", "KINDS", "DEFAULT_CHECKS", "KEY_FUNCTIONS", "resolve_checks", "parse_key"]

#: kind -> (required options, options that apply, human group name)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "missing": (("fields",), ("fields", "match", "blank"), "Missing metadata"),
    "duplicates": (("key",), ("key",), "Duplicate identities"),
    "stale": (("column",), ("column", "days"), "Stale data"),
    "coverage": (("related",), ("related", "via", "where"), "Coverage"),
}
_COMMON = ("kind", "table", "label", "only_with", "timeout_ms", "enabled")
#: Functions a duplicate key may apply to a column (all of them keep NULL as NULL).
KEY_FUNCTIONS = ("lower", "upper", "trim", "year")

declare_options(
    "health",
    Option("kind", "str", "missing | duplicates | stale | coverage", example='"coverage"'),
    Option("table", "str", "The table or view checked (a reflected screen name)", default="movies"),
    Option("label", "str", "Title shown on the page and in the CLI", default="the check's name"),
    Option("fields", "str-list", "missing: columns that should be filled", example='["overview"]'),
    Option("match", "str", "missing: 'any' (a row lacks at least one field) or 'all'", default="any"),
    Option("blank", "bool", "missing: empty text ('') counts as missing", default=True),
    Option("key", "str-list", "duplicates: the identity; columns or lower(...), upper(...), trim(...), year(...)",
           example='["lower(trim(title))", "year(release_date)"]'),
    Option("column", "str", "stale: the timestamp of the last refresh (NULL counts as stale)"),
    Option("days", "int", "stale: age in days after which a row is stale", default="CATALOG_HEALTH_STALE_DAYS"),
    Option("related", "str", "coverage: the table whose rows each checked row should have"),
    Option("via", "str", "coverage: the related table's column pointing at this table", default="its foreign key"),
    Option("where", "dict", "coverage: conditions on the related rows, column = value or [values]",
           example='{ job = "Director" }'),
    Option("only_with", "str-list", "Check only rows where these columns are set", example='["tmdb_id"]'),
    Option("timeout_ms", "int", "Statement timeout of this check (PostgreSQL; SQLite interrupts)",
           default="STATEMENT_TIMEOUT_MS"),
    Option("enabled", "bool", "false switches the check off (defaults included)", default=True),
)

PROBLEM_IDS.update({
    "backoffice.E050": "a health check lacks an option its kind requires",
    "backoffice.E051": "unknown health check kind",
    "backoffice.E052": "a health check option does not apply to its kind",
    "backoffice.E053": "a health check names an unknown table or view",
    "backoffice.E054": "a health check names an unknown column",
    "backoffice.E055": "a duplicate key expression cannot be read",
    "backoffice.E056": "coverage: cannot tell which column of the related table points at the checked table",
    "backoffice.E057": "a health check option has an invalid value",
})

_MOVIE_FIELDS = ["overview", "poster_path", "release_date", "runtime_minutes"]
#: The movie-catalog checks, declared exactly like file entries. Names follow the
#: demo generator's DefectCounts so the exactness tests read them one to one.
DEFAULT_CHECKS: dict[str, dict[str, Any]] = {
    "missing_overview": {"kind": "missing", "fields": ["overview"], "label": "Missing overview"},
    "missing_poster": {"kind": "missing", "fields": ["poster_path"], "label": "Missing poster"},
    "missing_release_date": {"kind": "missing", "fields": ["release_date"], "label": "Missing release date"},
    "missing_runtime": {"kind": "missing", "fields": ["runtime_minutes"], "label": "Missing runtime"},
    "missing_any": {"kind": "missing", "fields": _MOVIE_FIELDS, "label": "Missing any of these"},
    "duplicate_imdb_id": {"kind": "duplicates", "key": ["imdb_id"], "label": "Movies sharing an IMDb id"},
    "duplicate_title_year": {"kind": "duplicates", "key": ["lower(trim(title))", "year(release_date)"],
                             "label": "Movies sharing a title and release year"},
    "duplicate_tmdb_id": {"kind": "duplicates", "key": ["tmdb_id"], "label": "Movies sharing a TMDB id"},
    "stale_tmdb": {"kind": "stale", "column": "tmdb_synced_at", "only_with": ["tmdb_id"],
                   "label": "TMDB data missing or stale"},
    "no_cast": {"kind": "coverage", "related": "movie_credits", "where": {"credit_type": "cast"},
                "label": "No cast credit"},
    "no_director": {"kind": "coverage", "related": "movie_credits", "where": {"job": "Director"},
                    "label": "No director"},
    "no_genre": {"kind": "coverage", "related": "movie_genres", "label": "No genre"},
    "no_keyword": {"kind": "coverage", "related": "movie_keywords", "label": "No keyword"},
}


@dataclass(frozen=True)
class HealthCheck:
    """One resolved, validated check. ``table`` and ``related`` are screen names of
    the reflection; ``via`` is resolved to a column name when the check is built."""

    name: str
    kind: str
    table: str = "movies"
    label: str = ""
    fields: tuple[str, ...] = ()
    match: str = "any"
    blank: bool = True
    key: tuple[str, ...] = ()
    column: str | None = None
    days: int | None = None
    related: str | None = None
    via: str | None = None
    where: tuple[tuple[str, Any], ...] = ()
    only_with: tuple[str, ...] = ()
    timeout_ms: int | None = None
    default: bool = False

    @property
    def group(self) -> str:
        return KINDS[self.kind][2]

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")


_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$")


def parse_key(text: str) -> tuple[tuple[str, ...], str]:
    """``"lower(trim(title))"`` -> (("trim", "lower"), "title"): functions innermost
    first, and the column. Raises ValueError with a readable reason."""
    functions: list[str] = []
    while match := _CALL.match(text):
        name = match.group(1).lower()
        if name not in KEY_FUNCTIONS:
            raise ValueError(f"unknown function '{match.group(1)}'")
        functions.insert(0, name)
        text = match.group(2)
    column = text.strip()
    if not re.fullmatch(r"[^\s()',]+", column):
        raise ValueError("expected a column name, optionally inside " + ", ".join(f"{f}(...)" for f in KEY_FUNCTIONS))
    return tuple(functions), column


def resolve_checks(declarations: Declarations, reflection: Any) -> tuple[list[HealthCheck], list[Problem]]:
    """The effective checks (defaults merged with the file) and the file's problems."""
    checks: list[HealthCheck] = []
    problems: list[Problem] = []
    entries = declarations.health if isinstance(declarations.health, dict) else {}
    names = list(DEFAULT_CHECKS) + [n for n in entries if n not in DEFAULT_CHECKS]
    for name in names:
        entry = entries.get(name)
        if entry is not None and not isinstance(entry, dict):
            continue  # reported as E003 by the shape check
        default = DEFAULT_CHECKS.get(name)
        if default is not None and entry is not None and entry.get("kind", default["kind"]) == default["kind"]:
            spec = {**default, **entry}
        else:
            spec = dict(entry if entry is not None else default)
        if spec.get("enabled", True) is False:
            continue
        found = list(_validate(name, spec, declarations, reflection))
        if entry is None:  # an untouched default that does not fit this schema: leave it out quietly
            if not found:
                checks.append(_build(name, spec, reflection, default=True))
            continue
        problems.extend(found)
        if not found:
            checks.append(_build(name, spec, reflection, default=default is not None))
    return checks, problems


@register_check
def _check_health(declarations: Declarations, reflection: Any):
    return resolve_checks(declarations, reflection)[1]


def _validate(name: str, spec: dict, declarations: Declarations, reflection: Any):
    prefix = f"health.{name}"

    def bad(id: str, option: str, message: str, hint: str | None = None, table: str | None = None) -> Problem:
        return problem(id, declarations, f"{prefix}.{option}" if option else prefix, message,
                       table=table or spec.get("table", "movies"), hint=hint)

    kind = spec.get("kind")
    if kind is None:
        yield bad("backoffice.E050", "kind", "a check needs a kind", hint=did_you_mean("", KINDS))
        return
    if not isinstance(kind, str) or kind not in KINDS:
        yield bad("backoffice.E051", "kind", f"unknown check kind '{kind}'", hint=did_you_mean(str(kind), KINDS))
        return
    required, applies, _group = KINDS[kind]
    for option in spec:
        if option not in _COMMON and option not in applies and option in _all_kind_options():
            yield bad("backoffice.E052", option, f"'{option}' does not apply to a {kind} check",
                      hint="it applies to: " + ", ".join(k for k, v in KINDS.items() if option in v[1]))
    for option in required:
        if not spec.get(option):
            yield bad("backoffice.E050", option, f"a {kind} check needs '{option}'")
    if not all(_shape_ok(option, spec[option]) for option in spec):
        return  # wrong types are reported by the declarations' shape check (E005)
    table_name = spec.get("table", "movies")
    entry = reflection.tables.get(table_name)
    if entry is None:
        yield bad("backoffice.E053", "table", f"'{table_name}' is not a reflected table or view",
                  hint=did_you_mean(table_name, reflection.tables))
        return

    def unknown(option: str, column: str, where_table=entry, table_label: str = table_name) -> Problem | None:
        if column in where_table.table.c:
            return None
        return bad("backoffice.E054", option, f"'{column}' is not a column of '{table_label}'",
                   hint=did_you_mean(column, where_table.table.c.keys()), table=table_label)

    for index, column in enumerate(spec.get("fields", ()) if kind == "missing" else ()):
        if found := unknown(f"fields[{index}]", column):
            yield found
    for index, column in enumerate(spec.get("only_with", ())):
        if found := unknown(f"only_with[{index}]", column):
            yield found
    if kind == "missing" and spec.get("match", "any") not in ("any", "all"):
        yield bad("backoffice.E057", "match", f"match must be 'any' or 'all', not '{spec['match']}'")
    if kind == "duplicates":
        for index, text in enumerate(spec.get("key", ())):
            try:
                _functions, column = parse_key(text)
            except ValueError as exc:
                call = _CALL.match(text)
                hint = did_you_mean(call.group(1), KEY_FUNCTIONS) if call and "function" in str(exc) else None
                yield bad("backoffice.E055", f"key[{index}]", f"cannot read '{text}': {exc}", hint=hint)
                continue
            if found := unknown(f"key[{index}]", column):
                yield found
    if kind == "stale":
        if spec.get("column") and (found := unknown("column", spec["column"])):
            yield found
        if "days" in spec and spec["days"] < 1:
            yield bad("backoffice.E057", "days", f"days must be at least 1, not {spec['days']}")
    if "timeout_ms" in spec and spec["timeout_ms"] < 1:
        yield bad("backoffice.E057", "timeout_ms", f"timeout_ms must be at least 1, not {spec['timeout_ms']}")
    if kind == "coverage" and spec.get("related"):
        yield from _validate_coverage(spec, entry, table_name, reflection, bad, unknown)


def _validate_coverage(spec, entry, table_name, reflection, bad, unknown):
    related_name = spec["related"]
    related = reflection.tables.get(related_name)
    if related is None:
        yield bad("backoffice.E053", "related", f"'{related_name}' is not a reflected table or view",
                  hint=did_you_mean(related_name, reflection.tables), table=related_name)
        return
    for column, value in spec.get("where", {}).items():
        if found := unknown(f"where.{column}", column, related, related_name):
            yield found
        elif not _scalar_or_list(value):
            yield bad("backoffice.E057", f"where.{column}",
                      f"expected a value or a list of values, got {type(value).__name__}", table=related_name)
    via = spec.get("via")
    if via is not None:
        if found := unknown("via", via, related, related_name):
            yield found
        elif not any(fk.column.table is entry.table for fk in related.table.c[via].foreign_keys) \
                and len(entry.primary_key) != 1:
            yield bad("backoffice.E056", "via", f"'{related_name}.{via}' has no foreign key to '{table_name}' and "
                      f"'{table_name}' has no single-column primary key to compare it with", table=related_name)
        return
    pointing = _foreign_keys(related.table, entry.table)
    if len(pointing) != 1:
        found = "no foreign key" if not pointing else f"{len(pointing)} foreign keys (" + ", ".join(
            fk.parent.name for fk in pointing) + ")"
        yield bad("backoffice.E056", "related", f"'{related_name}' has {found} to '{table_name}'",
                  hint="name the column with via = \"...\"", table=related_name)


def _foreign_keys(related_table, table) -> list:
    found = []
    for fk in related_table.foreign_keys:
        try:
            if fk.column.table is table:
                found.append(fk)
        except Exception:  # a foreign key to a table outside the reflection cannot be ours
            continue
    return found


def _build(name: str, spec: dict, reflection: Any, *, default: bool) -> HealthCheck:
    via = spec.get("via")
    if spec["kind"] == "coverage" and via is None:
        via = _foreign_keys(reflection.tables[spec["related"]].table,
                            reflection.tables[spec.get("table", "movies")].table)[0].parent.name
    return HealthCheck(
        name=name, kind=spec["kind"], table=spec.get("table", "movies"), label=spec.get("label", ""),
        fields=tuple(spec.get("fields", ())), match=spec.get("match", "any"), blank=spec.get("blank", True),
        key=tuple(spec.get("key", ())), column=spec.get("column"), days=spec.get("days"),
        related=spec.get("related"), via=via,
        where=tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in spec.get("where", {}).items())),
        only_with=tuple(spec.get("only_with", ())), timeout_ms=spec.get("timeout_ms"), default=default,
    )


def _all_kind_options() -> set[str]:
    return {option for _req, applies, _g in KINDS.values() for option in applies}


def _scalar_or_list(value: Any) -> bool:
    scalar = (str, int, float, bool)
    return isinstance(value, scalar) or (isinstance(value, list) and all(isinstance(v, scalar) for v in value))


_SHAPES = {"fields": list, "key": list, "only_with": list, "where": dict, "days": int, "timeout_ms": int,
           "related": str, "column": str, "table": str, "via": str, "match": str}


def _shape_ok(option: str, value: Any) -> bool:
    expected = _SHAPES.get(option)
    if expected is None:
        return True
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, expected)
