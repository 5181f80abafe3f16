"""/admin/catalog-health/: the catalog-health overview, a page per check and its CSV.

Read-only by construction: every query runs through :mod:`backoffice.catalog` in a
read-only transaction, and the only form on these pages is "refresh" (a POST with
CSRF that recomputes the figures; it changes no data, but it costs the database a
full run, so a cross-site GET must not be able to trigger it).

The figures are the stored snapshot every worker and instance shares: the pages say
how old they are and whether a refresh is running, and never compute them in the
request (a refresh runs in a background thread; see :mod:`backoffice.catalog`).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, current_app, flash, redirect, request, url_for
from flask_admin import Admin, BaseView, expose
from flask_admin.tools import iterencode
from sqlalchemy import exc

from backoffice.catalog import CatalogHealth
from backoffice.catalog import init_app as init_catalog
from backoffice.catalog.runner import is_timeout
from backoffice.web.errors import error_response

from views.access import RoleGuardMixin
from views.cells import formula_safe
from views.names import add_view, endpoint_for, views_of

__all__ = ["CatalogHealthView", "init_app"]

PAGE_SIZE = 50


class CatalogHealthView(RoleGuardMixin, BaseView):
    """Overview of every declared check, with a detail page and CSV export per check."""

    #: Least role that may see these pages (read-only: every operator).
    view_role: str | None = "viewer"

    def __init__(self, service: CatalogHealth, **kwargs):
        self.service = service
        kwargs.setdefault("name", "Catalog health")
        kwargs.setdefault("category", "Catalog")
        kwargs.setdefault("endpoint", "catalog_health")
        kwargs.setdefault("url", "/admin/catalog-health")
        super().__init__(**kwargs)

    def _snapshot(self):
        if self.service.store is None:  # snapshots unavailable: this process's own figures
            report = self.service.report()
            return report, None
        snapshot = self.service.current()
        return snapshot.report, snapshot

    def _computing(self, snapshot):
        return self.render("backoffice/catalog_health/computing.html", snapshot=snapshot)

    @expose("/")
    def index(self):
        report, snapshot = self._snapshot()
        if report is None:
            return self._computing(snapshot)
        groups: dict[str, list] = {}
        for result in report.results:
            groups.setdefault(result.check.group, []).append(result)
        return self.render("backoffice/catalog_health/overview.html", report=report, groups=groups,
                           row_url=self._row_url, sample_limit=self.service.sample_limit, snapshot=snapshot,
                           not_applicable=self.service.not_applicable)

    @expose("/check/<check>/")
    def detail(self, check: str):
        name = check
        if name not in self.service.checks:
            return error_response(404, "No such check", f"There is no catalog-health check named '{name}'.")
        report, snapshot = self._snapshot()
        if report is None or report.get(name) is None:
            return self._computing(snapshot)
        result = report.get(name)
        page = request.args.get("page", 1, type=int) or 1
        rows, problem = [], None
        if result.status == "ok":
            try:
                rows = self.service.page(name, page, PAGE_SIZE)
            except exc.DBAPIError as error:
                problem = "timed out" if is_timeout(error) else "failed"
        pages = max(1, -(-((result.groups if result.check.kind == "duplicates" else result.count) or 0) // PAGE_SIZE))
        q = self.service.queries(name)
        return self.render("backoffice/catalog_health/detail.html", report=report, result=result, rows=rows,
                           problem=problem, page=min(max(page, 1), pages), pages=pages, snapshot=snapshot,
                           columns=[c.name for c in q.display_columns()],
                           link_for=lambda row: self._row_url(q.check.table, tuple(row[c.name] for c in q.pk)))

    @expose("/check/<check>/csv")
    def export(self, check: str):
        name = check
        if name not in self.service.checks:
            return error_response(404, "No such check", f"There is no catalog-health check named '{name}'.")
        rows = self.service.export(name)
        try:
            header = next(rows)  # runs the query now, so a timeout is an error page, not a cut-off file
        except exc.DBAPIError as error:
            status = "timed out" if is_timeout(error) else "failed"
            return error_response(503, "Export " + status, f"The export of '{name}' {status}; try again later.")

        def generate() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(header)
            for row in rows:
                writer.writerow([formula_safe(v) for v in row])  # csv writes NULL as ""
                if buffer.tell() > 64 * 1024:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        return Response(generate(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="catalog-health-{name}.csv"'})

    @expose("/refresh", methods=("POST",))
    def refresh(self):
        if self.service.store is None:
            flash(_refreshed_message(self.service.report(refresh=True)), "success")
        else:
            # In the background: a large catalog takes longer than a request may. A short
            # wait still lets a small one answer with its new figures straight away.
            self.service.refresh_in_background()
            if self.service.join(self.service.wait_seconds):
                snapshot = self.service.current(wait=0)
                flash(_refreshed_message(snapshot.report) if snapshot.report else "The refresh did not finish.",
                      "success" if snapshot.report else "error")
            else:
                flash("Refreshing in the background; this page shows the previous figures until it is done.",
                      "info")
        name = request.form.get("check")
        if name in self.service.checks:
            return redirect(url_for(".detail", check=name))
        return redirect(url_for(".index"))

    def _row_url(self, table: str, pk) -> str | None:
        """The details screen of a row, when the table has an accessible screen."""
        endpoint = endpoint_for(table)
        view = next((v for v in views_of(current_app) if v.endpoint == endpoint), None)
        if view is None or not view.is_accessible():
            return None
        values = tuple(pk) if isinstance(pk, (tuple, list)) else (pk,)
        ident = str(values[0]) if len(values) == 1 else iterencode(values)
        return url_for(f"{endpoint}.details_view", id=ident)


def init_app(app, admin: Admin, db, reflection, settings) -> CatalogHealthView:
    """Build the catalog-health service and add its pages to the Admin."""
    with app.app_context():
        engine = db.engine
    router = app.extensions.get("backoffice.replica")  # heavy reads may go to a replica (backoffice/replica)
    service = init_catalog(app, engine, reflection, app.extensions["backoffice.declarations"], settings,
                           reads=router.engine_for_reads if router is not None and router.replica is not None else None)
    view = CatalogHealthView(service)
    add_view(app, admin, view)
    return view


def _refreshed_message(report) -> str:
    """What Refresh did: how many checks, how long, and any that did not finish."""
    unfinished = [r for r in report.results if r.status in ("timed out", "failed")]
    text = f"Recomputed {len(report.results)} checks in {report.seconds:.2f} s."
    if unfinished:
        text += f" {len(unfinished)} did not finish (timed out or failed); see below."
    return text
