"""Declared read-only pages: ``[pages.<name>]`` turns one SQL ``SELECT`` with named,
typed parameters into a page with a form, paging, links to records and CSV export.
What a declaration may say, and its checks, are in :mod:`views.page_spec`.

Safety, in depth: the statement must be one ``SELECT`` (or ``WITH ... SELECT``)
without data-changing or locking words (checked by ``backoffice check``, E110); it
runs in a read-only transaction with the statement timeout
(:func:`backoffice.catalog.runner.read_only`); parameters are always bound, never
interpolated; a page shows at most :data:`MAX_PAGE_SIZE` rows at a time. Only the
maintainer writes the SQL: operators choose parameter values.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from flask import Response, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import exc, text

from backoffice.catalog.runner import read_only
from backoffice.core.declarations import Declarations
from backoffice.web.errors import error_response
from views.access import RoleGuardMixin
from views.cells import formula_safe
from views.formatters import build_formatter
from views.names import endpoint_for
from views.page_spec import MAX_CHOICES, MAX_PAGE_SIZE, Param, first_line, paged, params, wrapped

__all__ = ["DeclaredPageView", "page_views"]


class DeclaredPageView(RoleGuardMixin, BaseView):
    """One declared page: the parameter form, a page of results, and its CSV."""

    def __init__(self, name: str, spec: dict[str, Any], engine, timeout_ms: int | None):
        self.page_name = name
        self.spec = spec
        self.sql = spec["sql"]
        self.params = params(spec)
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
                    result = conn.execute(paged(self.sql), {**values, "_limit": self.page_size + 1,
                                                              "_offset": (page - 1) * self.page_size})
                    columns = list(result.keys())
                    rows = [dict(r._mapping) for r in result]
            except exc.DBAPIError as err:
                return error_response(503 if _timed_out(err) else 500, "This page's query failed",
                                      f"The database answered: {first_line(err)}")
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
                    text(wrapped(self.sql)), values)
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
