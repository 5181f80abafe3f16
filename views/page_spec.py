"""Declared read-only pages as data: the ``[pages.<name>]`` options, problem ids E110-E118,
the checks of a page against the schema (``backoffice check`` runs its statement once too)
and the SQL around a page's statement.

The statement must be one ``SELECT`` (or ``WITH ... SELECT``) without data-changing or
locking words (E110); parameters are typed and always bound. The page itself (form,
paging, CSV) is :mod:`views.pages`.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc, text

from backoffice.catalog.runner import read_only
from backoffice.core.access import ROLES
from backoffice.core.declarations import Declarations, Option, Problem, Rules, did_you_mean, problem
from views.formatters import FORMATTERS

__all__ = ["PAGE_OPTIONS", "PAGE_PROBLEM_IDS", "MAX_PAGE_SIZE", "MAX_CHOICES", "Param", "params", "statement_problem",
           "parameters_of", "check_pages", "live_problems", "wrapped", "paged", "first_line", "register_rules"]

#: Most rows one page shows (``page_size`` is capped here).
MAX_PAGE_SIZE = 500
#: Most distinct values a ``choices_from`` parameter offers.
MAX_CHOICES = 200
PARAM_TYPES = ("text", "integer", "date", "choice")
_MAX_TEXT = 500

PAGE_OPTIONS = (
    Option("sql", "str", "One SELECT (or WITH ... SELECT) with :named parameters; runs read-only with "
           "the statement timeout. Its ORDER BY orders the page.",
           example='"SELECT id, title FROM movies WHERE poster_path IS NULL AND release_date >= :since"'),
    Option("label", "str", "Menu and page title.", default="the page name", example='"Movies without a poster"'),
    Option("category", "str", "Menu category.", default="Reports", example='"Reports"'),
    Option("description", "str", "A sentence under the title.", example='"Released since a date, by language."'),
    Option("role", "str", "Least role that may see the page (viewer, operator, admin).", default="viewer",
           example='"viewer"'),
    Option("params", "table", "Parameter name -> { type = text|integer|date|choice, label, default, required, "
           "choices = [...] or choices_from = \"table.column\" }.",
           example='{ since = { type = "date", label = "Released since", default = "2024-01-01" } }'),
    Option("labels", "table", "Result column -> heading.", example='{ original_language = "Language" }'),
    Option("formatters", "table", "Result column -> formatter, as for screens.", example='{ release_date = "date" }'),
    Option("links", "table", "Result column -> screen name: the value is that screen's row key and links to "
           "the record.", example='{ id = "movies" }'),
    Option("page_size", "int", f"Rows per page (at most {MAX_PAGE_SIZE}).", default=50, example="50"),
    Option("order", "int", "Position in the menu (lower first).", default=100, example="10"),
)

PAGE_PROBLEM_IDS = {
    "backoffice.E110": "a page's sql is not a single read-only SELECT",
    "backoffice.E111": "a page's sql and its declared params disagree (undeclared or unused parameter)",
    "backoffice.E112": "a page parameter has an unknown type or a bad default or choices",
    "backoffice.E113": "a page parameter's choices_from names an unknown table or column",
    "backoffice.E114": "a page link names an unknown screen",
    "backoffice.E115": "a page names an unknown role",
    "backoffice.E116": "a page formatter names an unknown kind or has a bad argument",
    "backoffice.E117": "a page's sql does not run against the database",
    "backoffice.E118": "a page's page_size is out of range",
}

_WRITES = {"insert", "update", "delete", "merge", "create", "alter", "drop", "truncate", "grant", "revoke",
           "copy", "call", "do", "execute", "vacuum", "lock", "set", "reset", "attach", "detach", "pragma",
           "reindex", "refresh", "comment", "into", "share", "listen", "notify", "prepare", "deallocate"}
_STRIP = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", re.S)
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _bare(sql: str) -> str:
    """The statement without comments, string literals and quoted names (kept as spaces)."""
    return _STRIP.sub(" ", sql)


def statement_problem(sql: str) -> str | None:
    """Why ``sql`` is not a single read-only SELECT, or None."""
    bare = _bare(sql).strip()
    if bare.endswith(";"):
        bare = bare[:-1].rstrip()
    if ";" in bare:
        return "holds more than one statement"
    words = re.findall(r"[A-Za-z_]+", bare.lower())
    if not words or words[0] not in ("select", "with"):
        return "must start with SELECT or WITH"
    bad = sorted(set(words) & _WRITES)
    if bad:
        return f"uses {', '.join(w.upper() for w in bad)}, which a read-only page may not"
    return None


def parameters_of(sql: str) -> list[str]:
    """The :named parameters of ``sql``, in order of first use (casts ``::type`` excluded)."""
    return list(dict.fromkeys(_PARAM.findall(_bare(sql))))


@dataclass(frozen=True)
class Param:
    """One declared parameter of a page."""

    name: str
    type: str
    label: str
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    choices_from: str | None = None

    def parse(self, raw: str | None) -> Any:
        """The bound value for ``raw`` (None: the default); ValueError with the operator's message."""
        if raw is None or raw == "":
            if self.required and self.default is None:
                raise ValueError(f"{self.label} is required")
            raw = self.default
            if raw is None:
                return None
        raw = str(raw)
        if self.type == "integer":
            try:
                value = int(raw.strip())
            except ValueError:
                raise ValueError(f"{self.label}: '{raw[:40]}' is not a whole number") from None
            if not -(2 ** 63) <= value < 2 ** 63:
                raise ValueError(f"{self.label}: {raw[:40]} is out of range")
            return value
        if self.type == "date":
            try:
                return dt.date.fromisoformat(raw.strip())
            except ValueError:
                raise ValueError(f"{self.label}: '{raw[:40]}' is not a date (YYYY-MM-DD)") from None
        if len(raw) > _MAX_TEXT:
            raise ValueError(f"{self.label} is longer than {_MAX_TEXT} characters")
        return raw


def params(spec: dict[str, Any]) -> list[Param]:
    found = []
    for name, entry in (spec.get("params") or {}).items():
        entry = entry if isinstance(entry, dict) else {}
        choices = entry.get("choices") or ()
        found.append(Param(name=name, type=entry.get("type", "text"), label=entry.get("label", name),
                           default=entry.get("default"), required=bool(entry.get("required", False)),
                           choices=tuple(str(c) for c in choices) if isinstance(choices, list) else (),
                           choices_from=entry.get("choices_from")))
    return found


def _check_page(name: str, spec: dict[str, Any], declarations: Declarations, reflection) -> Iterator[Problem]:
    prefix = f"pages.{name}"
    sql = spec.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        yield problem("backoffice.E110", declarations, f"{prefix}.sql", "a page needs sql = \"SELECT ...\"")
        return
    why = statement_problem(sql)
    if why:
        yield problem("backoffice.E110", declarations, f"{prefix}.sql", f"the statement {why}",
                      hint="a page runs one SELECT (or WITH ... SELECT) and changes nothing")
    declared = spec.get("params") or {}
    used = parameters_of(sql)
    for missing in [p for p in used if p not in declared]:
        yield problem("backoffice.E111", declarations, f"{prefix}.sql", f"parameter :{missing} is not declared",
                      hint=f"add params.{missing} = {{ type = \"text\" }}")
    for unused in [p for p in declared if p not in used]:
        yield problem("backoffice.E111", declarations, f"{prefix}.params.{unused}",
                      f"parameter '{unused}' is not used by the sql", hint=did_you_mean(unused, used))
    for param in params(spec):
        where = f"{prefix}.params.{param.name}"
        if not isinstance(declared.get(param.name), dict):
            yield problem("backoffice.E112", declarations, where, "a parameter is a table { type = ... }")
            continue
        if param.type not in PARAM_TYPES:
            yield problem("backoffice.E112", declarations, f"{where}.type", f"unknown type '{param.type}'",
                          hint=did_you_mean(param.type, PARAM_TYPES))
            continue
        if param.default is not None:
            try:
                param.parse(str(param.default))
            except ValueError as err:
                yield problem("backoffice.E112", declarations, f"{where}.default", str(err))
        if param.type == "choice" and not param.choices and not param.choices_from:
            yield problem("backoffice.E112", declarations, where, "a choice needs choices = [...] or choices_from")
        if param.choices_from:
            table, _, column = str(param.choices_from).partition(".")
            entry = reflection.tables.get(table) if reflection is not None else None
            if entry is None or column not in entry.table.columns:
                yield problem("backoffice.E113", declarations, f"{where}.choices_from",
                              f"'{param.choices_from}' is not a table.column of the database")
    for column, screen in (spec.get("links") or {}).items():
        if reflection is not None and screen not in reflection.tables:
            yield problem("backoffice.E114", declarations, f"{prefix}.links.{column}",
                          f"'{screen}' is not a screen", hint=did_you_mean(str(screen), reflection.tables))
    role = spec.get("role", "viewer")
    if role not in ROLES:
        yield problem("backoffice.E115", declarations, f"{prefix}.role", f"unknown role '{role}'",
                      hint=did_you_mean(str(role), ROLES))
    for column, formatter in (spec.get("formatters") or {}).items():
        kind = formatter if isinstance(formatter, str) else (formatter or {}).get("kind")
        if kind not in FORMATTERS:
            yield problem("backoffice.E116", declarations, f"{prefix}.formatters.{column}",
                          f"unknown formatter '{kind}'", hint=did_you_mean(str(kind), FORMATTERS))
            continue
        for arg, value in (formatter.items() if isinstance(formatter, dict) else ()):
            argument = FORMATTERS[kind].arguments.get(arg)
            if arg != "kind" and (argument is None or argument.problem(value)):
                yield problem("backoffice.E116", declarations, f"{prefix}.formatters.{column}.{arg}",
                              f"bad argument {arg} = {value!r} for {kind}")
    size = spec.get("page_size", 50)
    if not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        yield problem("backoffice.E118", declarations, f"{prefix}.page_size",
                      f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {size!r}")


def check_pages(declarations: Declarations, reflection) -> Iterator[Problem]:
    """Every ``[pages.*]`` entry against the reflected schema (statement, parameters, links...)."""
    for name, spec in declarations.pages.items():
        if isinstance(spec, dict):
            yield from _check_page(name, spec, declarations, reflection)


def live_problems(engine, declarations: Declarations, timeout_ms: int | None) -> list[Problem]:
    """E117: each page's statement run once against the database (no rows fetched, NULL
    parameters, read-only): what a column typo or a missing table looks like before an
    operator opens the page. Used by ``backoffice check``."""
    found = []
    for name, spec in declarations.pages.items():
        sql = spec.get("sql") if isinstance(spec, dict) else None
        if not isinstance(sql, str) or statement_problem(sql):
            continue
        try:
            with read_only(engine, timeout_ms) as conn:
                conn.execute(paged(sql), {**{p: None for p in parameters_of(sql)}, "_limit": 0, "_offset": 0})
        except exc.DBAPIError as err:
            found.append(problem("backoffice.E117", declarations, f"pages.{name}.sql",
                                 f"the database refuses it: {first_line(err)}"))
    return found


def wrapped(sql: str) -> str:
    # The statement as a subquery: paging cannot collide with its own LIMIT, and result
    # column names come out the same on every database.
    return f"SELECT * FROM ({sql.strip().rstrip(';')}) AS declared_page"


def paged(sql: str):
    return text(wrapped(sql) + " LIMIT :_limit OFFSET :_offset")


def first_line(err: exc.DBAPIError) -> str:
    return str(getattr(err, "orig", err)).strip().splitlines()[0][:300]


def register_rules(rules: Rules) -> None:
    """The ``[pages.*]`` section: its options, problem ids E110-E118 and the page checks."""
    rules.declare_ids(PAGE_PROBLEM_IDS)
    rules.declare_options("pages", *PAGE_OPTIONS)
    rules.add_check(check_pages)
