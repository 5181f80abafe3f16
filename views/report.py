"""The reflection report: every table and view, how it is exposed, and what was degraded.

The same rows feed the /admin/schema-report/ page and ``backoffice check``, so the
page and the command never disagree. Nothing the reflection decided is left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, url_for
from flask_admin import BaseView, expose
from werkzeug.routing import BuildError

from backoffice.indexes import MIN_ROWS, advice_for
from backoffice.catalog.validation import defaults_off as health_defaults_off
from backoffice.core.declarations import Declarations
from backoffice.core.defaults import DefaultOff
from models.reflection import Reflection, ReflectedTable
from queues.spec import defaults_off as queue_defaults_off

from views.columns import ColumnPlan, column_plans
from views.names import endpoint_for

__all__ = ["ReportRow", "build_report", "report_text", "SchemaReportView", "defaults_not_applicable"]


@dataclass
class ReportRow:
    """One relation in the report."""

    screen: str
    entry: ReflectedTable
    links: list[str] = field(default_factory=list)
    degraded: list[ColumnPlan] = field(default_factory=list)

    @property
    def identity(self) -> str:
        return ", ".join(self.entry.primary_key) or "-"

    @property
    def notes(self) -> list[str]:
        return self.entry.notes


def build_report(reflection: Reflection) -> list[ReportRow]:
    rows = []
    for screen, entry in reflection.tables.items():
        row = ReportRow(screen=screen, entry=entry, degraded=[p for p in column_plans(entry) if p.reason])
        for constraint in entry.table.foreign_key_constraints:
            target = reflection.screen_of(constraint.elements[0].column.table) or "?"
            row.links.append(f"{', '.join(c.name for c in constraint.columns)} -> {target}")
        rows.append(row)
    return rows


def defaults_not_applicable(declarations: Declarations | None, reflection: Reflection) -> list[DefaultOff]:
    """Built-in checks and queues switched off because they do not fit this schema."""
    declarations = declarations or Declarations()
    return [*health_defaults_off(declarations, reflection), *queue_defaults_off(declarations, reflection)]


def report_text(reflection: Reflection, defaults: list[DefaultOff] = ()) -> str:
    """The report as plain text (``backoffice check``), built-in defaults that do not fit last."""
    rows = build_report(reflection)
    crud = sum(1 for r in rows if not r.entry.read_only)
    lines = [f"Reflection ({reflection.dialect}): {len(rows)} relations, {crud} CRUD, {len(rows) - crud} read-only"]
    for row in rows:
        lines.append(f"  {row.screen} [{row.entry.kind}] {row.entry.exposure}; key: {row.identity}")
        lines.extend(f"    - {note}" for note in row.notes)
        lines.extend(f"    - link {link}" for link in row.links)
        lines.extend(f"    - column {p.name} ({p.type_name}): {p.reason}" for p in row.degraded)
    if defaults:
        lines.append(f"Built-in defaults not applicable to this schema ({len(defaults)}), switched off:")
        for item in defaults:
            lines.append(f"  {item}")
            lines.append("    declaration that would enable it (columns guessed; review them):")
            lines.extend(f"      {line}" for line in item.declaration.splitlines())
    return "\n".join(lines)


class SchemaReportView(BaseView):
    """/admin/schema-report/: what the console made of the schema, and why."""

    view_role = "viewer"
    #: Tables with fewer rows get no index advice (the console's "large table" limit).
    index_min_rows: int = MIN_ROWS

    def __init__(self, reflection: Reflection):
        super().__init__(name="Reflection report", category="Schema", endpoint="schema_report",
                         url="/admin/schema-report")
        self.reflection = reflection

    @expose("/")
    def index(self):
        rows = build_report(self.reflection)
        # triggers that write other tables: changes no audit row records (audit_hooks/triggers.py)
        unaudited = current_app.extensions.get("backoffice.audit.triggers") or {}
        urls = {}
        for row in rows:
            try:
                urls[row.screen] = url_for(endpoint_for(row.screen) + ".index_view")
            except BuildError:  # a relation without a screen in this app
                urls[row.screen] = None
        defaults = defaults_not_applicable(current_app.extensions.get("backoffice.declarations"), self.reflection)
        return self.render("backoffice/schema_report.html", rows=rows, urls=urls, dialect=self.reflection.dialect,
                           read_only=sum(1 for r in rows if r.entry.read_only), unaudited=unaudited,
                           index_advice=advice_for(current_app, min_rows=self.index_min_rows),
                           index_min_rows=self.index_min_rows, defaults=defaults)
