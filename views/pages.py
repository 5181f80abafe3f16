"""Declared read-only pages: ``[pages.<name>]`` turns one SQL ``SELECT`` with named,
typed parameters into a page with a form, paging, links to records and CSV export.

Safety, in depth: the statement must be one ``SELECT`` (or ``WITH ... SELECT``)
without data-changing or locking words (checked by ``backoffice check``, E110); it
runs in a read-only transaction with the statement timeout
(:func:`backoffice.catalog.runner.read_only`); parameters are always bound, never
interpolated; a page shows at most :data:`MAX_PAGE_SIZE` rows at a time. Only the
maintainer writes the SQL: operators choose parameter values.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from flask import Response, abort, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import exc, text

from backoffice.catalog.runner import read_only
from backoffice.core.access import ROLES
from backoffice.core.declarations import Declarations, Option, Problem, Rules, did_you_mean, problem
from backoffice.web.errors import error_response
from views.access import RoleGuardMixin
from views.names import endpoint_for
from views.formatters import FORMATTERS, build_formatter
from views.cells import formula_safe

__all__ = ["PAGE_OPTIONS", "PAGE_PROBLEM_IDS", "DeclaredPageView", "statement_problem", "page_views",
           "register_rules", "MAX_PAGE_SIZE"]

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


def _params(spec: dict[str, Any]) -> list[Param]:
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
    for param in _params(spec):
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
                conn.execute(_paged(sql), {**{p: None for p in parameters_of(sql)}, "_limit": 0, "_offset": 0})
        except exc.DBAPIError as err:
            found.append(problem("backoffice.E117", declarations, f"pages.{name}.sql",
                                 f"the database refuses it: {_first_line(err)}"))
    return found


def _wrapped(sql: str) -> str:
    # The statement as a subquery: paging cannot collide with its own LIMIT, and result
    # column names come out the same on every database.
    return f"SELECT * FROM ({sql.strip().rstrip(';')}) AS declared_page"


def _paged(sql: str):
    return text(_wrapped(sql) + " LIMIT :_limit OFFSET :_offset")


def _first_line(err: exc.DBAPIError) -> str:
    return str(getattr(err, "orig", err)).strip().splitlines()[0][:300]


class DeclaredPageView(RoleGuardMixin, BaseView):
    """One declared page: the parameter form, a page of results, and its CSV."""

    def __init__(self, name: str, spec: dict[str, Any], engine, timeout_ms: int | None):
        self.page_name = name
        self.spec = spec
        self.sql = spec["sql"]
        self.params = _params(spec)
        self.engine = engine
        self.timeout_ms = timeout_ms
        self.view_role = spec.get("role", "viewer")
        self.page_size = min(int(spec.get("page_size", 50)), MAX_PAGE_SIZE)
        self.labels = spec.get("labels") or {}
        self.links = spec.get("links") or {}
        self.formatters = {column: build_formatter(f, column) for column, f in (spec.get("formatters") or {}).items()}
        super().__init__(name=spec.get("label", name), category=spec.get("category", "Reports"),
                         endpoint="page_" + endpoint_for(name).removeprefix("table_"),
                         url="/admin/pages/" + "".join("_" if c in "/?#%" else c for c in name))

    def _values(self) -> tuple[dict[str, Any], list[str]]:
        values, errors = {}, []
        for param in self.params:
            try:
                values[param.name] = param.parse(request.args.get(param.name))
            except ValueError as err:
                errors.append(str(err))
        return values, errors

    def _choices(self, param: Param) -> tuple[str, ...]:
        if not param.choices_from:
            return param.choices
        table, _, column = param.choices_from.partition(".")
        sql = text(f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL '
                   f'ORDER BY 1 LIMIT {MAX_CHOICES}')
        with read_only(self.engine, self.timeout_ms) as conn:
            return tuple(str(v) for v in conn.execute(sql).scalars())

    def cell(self, row, column: str):
        """A result cell: formatted, or a link to the record, or the plain value."""
        value = row.get(column)
        if column in self.formatters:
            return self.formatters[column](self, {}, SimpleNamespace(**{column: value}), column)
        if column in self.links and value is not None:
            return _Link(url_for(endpoint_for(self.links[column]) + ".details_view", id=value), value)
        return "" if value is None else value

    @expose("/")
    def index(self):
        values, errors = self._values()
        choices = {p.name: self._choices(p) for p in self.params if p.type == "choice"}
        for param in self.params:
            if param.type == "choice" and values.get(param.name) is not None \
                    and str(values[param.name]) not in choices[param.name]:
                errors.append(f"{param.label}: '{str(values[param.name])[:40]}' is not one of the choices")
        try:
            page = max(1, min(int(request.args.get("page", "1")), 1_000_000))
        except ValueError:
            page = 1
        rows, columns, more = [], [], False
        if not errors:
            try:
                with read_only(self.engine, self.timeout_ms) as conn:
                    result = conn.execute(_paged(self.sql), {**values, "_limit": self.page_size + 1,
                                                              "_offset": (page - 1) * self.page_size})
                    columns = list(result.keys())
                    rows = [dict(r._mapping) for r in result]
            except exc.DBAPIError as err:
                return error_response(503 if _timed_out(err) else 500, "This page's query failed",
                                      f"The database answered: {_first_line(err)}")
            more = len(rows) > self.page_size
            rows = rows[:self.page_size]
        status = 400 if errors else 200
        return self.render("backoffice/pages/page.html", spec=self.spec, params=self.params, choices=choices,
                           raw={p.name: request.args.get(p.name, "") for p in self.params}, values=values,
                           errors=errors, rows=rows, columns=columns, labels=self.labels, page=page, more=more,
                           query={p.name: request.args.get(p.name) for p in self.params
                                  if request.args.get(p.name)}), status

    @expose("/export.csv")
    def export(self):
        values, errors = self._values()
        if errors:
            return error_response(400, "Cannot export", "; ".join(errors))

        def generate() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            with read_only(self.engine, self.timeout_ms) as conn:
                result = conn.execution_options(stream_results=True, yield_per=2000).execute(
                    text(_wrapped(self.sql)), values)
                writer.writerow([self.labels.get(k, k) for k in result.keys()])
                for row in result:
                    writer.writerow([formula_safe(v) for v in row])
                    if buffer.tell() > 64 * 1024:
                        yield buffer.getvalue()
                        buffer.seek(0)
                        buffer.truncate()
            yield buffer.getvalue()

        filename = re.sub(r"[^A-Za-z0-9_.-]", "_", self.page_name) + ".csv"
        return Response(generate(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@dataclass(frozen=True)
class _Link:
    url: str
    text: Any


def _timed_out(err: exc.DBAPIError) -> bool:
    return getattr(getattr(err, "orig", None), "pgcode", None) == "57014" or "interrupted" in str(err).lower()


def page_views(declarations: Declarations, engine, timeout_ms: int | None) -> list[DeclaredPageView]:
    """A view per declared page (already validated), in menu order."""
    pages = [(spec.get("order", 100), name, spec) for name, spec in declarations.pages.items()
             if isinstance(spec, dict)]
    return [DeclaredPageView(name, spec, engine, timeout_ms) for _order, name, spec in sorted(pages)]


def register_rules(rules: Rules) -> None:
    """The ``[pages.*]`` section: its options, problem ids E110-E118 and the page checks."""
    rules.declare_ids(PAGE_PROBLEM_IDS)
    rules.declare_options("pages", *PAGE_OPTIONS)
    rules.add_check(check_pages)
