"""CSV export of any list without a row cap, in constant memory, recorded in the audit trail.

Flask-Admin's export loads up to ``export_max_rows`` model objects into memory and
then writes them; past the cap the rest is silently missing, and under the cap a
worker holds the whole result. Here the list's own query (search, filters and sort
applied exactly as on the screen) is read in batches from a server-side cursor
(PostgreSQL; SQLite's cursor is lazy by nature), written 64 kB at a time, and every
cell passes through the screen's formula-safe export value.

Every export is an audit event (action ``export``): who, which screen, which search,
filters and sort, how many rows were sent and whether the file was complete. It is
written when the stream ends (a client that hangs up mid-way is recorded with the
rows it received) through the audit hooks, so it is chained like every other event.
"""
from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Response, current_app, flash, redirect, request, stream_with_context
from wtforms import TextAreaField
from wtforms.validators import Length, Optional
from flask_admin import expose
from flask_admin.babel import gettext
from flask_admin.helpers import get_redirect_target
from werkzeug.utils import secure_filename

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ColumnProperty

from audit_hooks.changeset import ChangeSet, RowChange
from backoffice.replica.heavy import READ_ENGINE_OPTION, routed_query
from backoffice.core.internals import column_by_index, export_columns, list_arguments, list_filter
from backoffice.web.csrf import SecureForm

from views.display import display_value
from views.export_copy import CHUNK_BYTES, CopyStream, copy_cells
from views.cells import formula_safe
from views.names import db_session
from views.presentation import PresentationPart
from views.reading import refused_reading
from views.safeguards import missing_reason, reason_required

__all__ = ["StreamingExportMixin", "ExportEvent", "ExportFailed", "stream_copied", "ExportReasonForm", "stream_csv", "CHUNK_BYTES", "BATCH_ROWS"]

log = logging.getLogger(__name__)

#: Rows fetched from the database per round trip.
BATCH_ROWS = 2000
_UNSEEN = object()
#: The audit action of an export.
EXPORT_ACTION = "export"


@dataclass
class ExportRecord(RowChange):
    """The one "row" of an export event: what was exported, not a changed record."""

    details: dict[str, Any] = field(default_factory=dict)

    def as_changes(self) -> dict[str, Any]:
        return {"op": EXPORT_ACTION, "new": dict(self.details)}


@dataclass
class ExportEvent:
    """Who exports which screen with which narrowing; :meth:`record` writes the audit row."""

    table: str  # the audited name of the relation (as data changes of it are recorded)
    screen: str
    narrowing: dict[str, Any]
    changeset: ChangeSet | None = None
    reason: str | None = None

    def begin(self) -> None:
        """Capture the operator, address and request id while the request is still there."""
        self.changeset = ChangeSet.build([])
        self.changeset.action, self.changeset.explicit_action = EXPORT_ACTION, True
        if self.reason:
            self.changeset.reason = self.reason

    def record(self, rows: int, complete: bool) -> None:
        import datetime as dt

        changeset = self.changeset
        if changeset is None:
            return
        details = {"screen": self.screen, **self.narrowing, "rows": rows, "complete": complete}
        changeset.rows = [ExportRecord(table=self.table, op=EXPORT_ACTION, primary_key={}, entity_id="*",
                                       details=details)]
        changeset.occurred_at = dt.datetime.now(dt.timezone.utc)
        manager = current_app.extensions["backoffice.audit"]
        db = current_app.extensions["backoffice.db"]
        with db.engine.begin() as connection:
            changeset.connection = connection
            manager.hook.audit_changeset(changeset=changeset)
        changeset.connection = None
        try:
            manager.hook.audit_committed(changeset=changeset)
        except Exception:  # notifications only: the event is written
            log.exception("an audit_committed hook failed for an export")


class ExportFailed(RuntimeError):
    """The database stopped sending an export's rows; the response breaks off unfinished.

    ``database_stalled``: no rows came for the allowed time (before the first chunk, the
    console's envelope then answers 503, the database stopped answering, not a 500)."""

    def __init__(self, message: str, *, stalled: bool = False):
        super().__init__(message)
        self.database_stalled = stalled


def stream_csv(header: Sequence[str], rows: Iterable[Sequence[Any]], *, filename: str,
               event: ExportEvent | None, cell: Callable[[Any], Any] = lambda v: v) -> Response:
    """A streamed CSV response; ``event`` is recorded when the stream ends, however it ends."""
    def body(buffer: io.StringIO, writer, sent: list[int]) -> Iterator[str]:
        for row in rows:
            writer.writerow([cell(v) for v in row])
            sent[0] += 1
            if buffer.tell() > CHUNK_BYTES:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()

    return _streamed(header, body, rows, filename=filename, event=event)


def stream_copied(header: Sequence[str], copy: CopyStream, *, filename: str, event: ExportEvent | None) -> Response:
    """A streamed CSV response whose rows PostgreSQL writes itself (views/export_copy.py)."""
    def body(buffer: io.StringIO, _writer, sent: list[int]) -> Iterator[str | bytes]:
        head = buffer.getvalue().encode("utf-8")  # the header, through the same writer as the other path
        buffer.seek(0)
        buffer.truncate()
        for chunk in copy:
            sent[0] = copy.rows  # handed to the server: counted as sent, as the other path counts
            yield head + chunk if head else chunk
            head = b""
        if copy.error is not None:  # the transfer must break, or the client takes the file as whole
            raise ExportFailed(f"the export stopped after {copy.rows} rows: {copy.error}",
                               stalled=isinstance(copy.error, TimeoutError)) from copy.error
        if head:
            yield head

    return _streamed(header, body, copy, filename=filename, event=event)


def _streamed(header, body, source, *, filename: str, event: ExportEvent | None) -> Response:
    if event is not None:
        event.begin()

    def generate() -> Iterator[str | bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        sent, complete = [0], False
        try:
            yield from body(buffer, writer, sent)
            yield buffer.getvalue()
            complete = True
        finally:
            close = getattr(source, "close", None)
            if close is not None:  # a client that hung up: end the read before writing the event
                close()
            if event is not None:
                try:
                    event.record(sent[0], complete)
                except Exception:  # the file is already out; the log must say the event is missing
                    log.exception("the audit event of an export of %s (%d rows) could not be written",
                                  event.screen, sent[0])

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{secure_filename(filename)}"'})


def _ending(rows: Iterator[list], session) -> Iterator[list]:
    """``rows``, then the end of the session they were read with.

    The body streams after the view returned: Flask's ``stream_with_context`` runs it in a
    context of its own, and Flask-SQLAlchemy's teardown has already removed the view's session
    by then. Reading the query opens a transaction on that session again, which nothing
    would end before garbage collection: a pooled connection left idle in transaction,
    holding its locks. Closing the session ends it (rollback; the export writes nothing)."""
    try:
        yield from rows
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
        session.close()


class ExportReasonForm(SecureForm):
    """The small form in front of an export whose screen requires a reason."""

    reason = TextAreaField("Reason for this export", validators=[Optional(), Length(max=2000)])


class StreamingExportMixin:
    """Mixin for :class:`~views.base.ReflectedModelView`: owns the list's export route."""

    #: Let PostgreSQL write the CSV when every cell has an exact SQL rendering (views/export_copy.py).
    copy_export = True
    #: Seconds past the statement timeout a COPY may send nothing before it is cancelled.
    copy_stall_margin = 10.0

    @expose("/export/<export_type>/", methods=("GET", "POST"))
    def export(self, export_type: str):
        reason = None
        if reason_required(self, "export"):
            # The reason travels in a POST body (CSRF-checked), never in the URL or its logs;
            # the query string keeps the list's search, filters and sort.
            form = ExportReasonForm()
            reason = (form.reason.data or "").strip() if request.method == "POST" else ""
            if request.method == "GET" or not form.validate_on_submit() or not reason:
                if request.method == "POST":
                    flash(missing_reason(self, "export") if not reason else "The reason could not be read; "
                          "nothing was exported.", "error")
                return self.render("backoffice/model/export_reason.html", form=form,
                                   return_url=get_redirect_target() or self.get_url(".index_view")), \
                    (422 if request.method == "POST" else 200)
        elif request.method == "POST":
            return redirect(request.full_path, 303)  # a plain export is a GET
        if export_type != "csv":  # other formats (tablib) keep Flask-Admin's bounded export
            return super().export(export_type)
        if not self.can_export or export_type not in self.export_types:
            flash(gettext("Permission denied."), "error")
            return redirect(get_redirect_target() or self.get_url(".index_view"))
        return self.stream_export(reason)

    def stream_export(self, reason: str | None = None):
        """The whole narrowed list as a streamed CSV, recorded as an export event."""
        args = list_arguments(self)
        sort = column_by_index(self, args.sort)
        _count, query = self.get_list(0, sort[0] if sort is not None else None, args.sort_desc, args.search,
                                      args.filters, execute=False, page_size=0)
        # yield_per: batches from a server-side cursor, and no eager loads piling up per row.
        query = query.enable_eagerloads(False)
        query = routed_query(db_session(self), query)  # a fresh replica reads it, when there is one
        readable = True
        try:  # a relation the database refuses to read (a materialized view never refreshed)
            query.limit(0).all()  # fails here, before the response starts, not halfway through it
        except DBAPIError as exc:
            if not refused_reading(exc):
                raise
            db_session(self).rollback()
            refusal = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            flash(f"{self.screen} cannot be read: {refusal}; the export holds its header only.", "error")
            readable = False  # as the list shows it: no rows, and the database's reason
        exported = export_columns(self)
        columns = [name for name, _label in exported]
        plain = self._plain_columns(columns)
        labels = [label for _name, label in exported]
        event = ExportEvent(table=self.entry.qualified_name, screen=self.screen,
                            narrowing=self._export_narrowing(args), reason=reason)
        copy = self._copy_stream(query, plain, columns) if readable and plain is not None else None
        if copy is not None:
            query.session.close()  # the COPY reads on a connection of its own
            return stream_copied(labels, copy, filename=self.get_export_name("csv"), event=event)
        if not readable:
            rows = iter(())
        elif plain is not None:
            rows = self._plain_rows(query.with_entities(*plain).yield_per(BATCH_ROWS), columns)
        else:
            rows = self._model_rows(query.yield_per(BATCH_ROWS), columns)
        rows = _ending(rows, query.session)
        return stream_csv(labels, rows, filename=self.get_export_name("csv"), event=event, cell=_text)

    def _copy_stream(self, query, plain: list, columns: list[str]) -> CopyStream | None:
        """PostgreSQL's own CSV of the list's query when every cell has an exact SQL rendering
        (views/export_copy.py), else None: the rows are read and written here."""
        session = query.session
        engine = query.get_execution_options().get(READ_ENGINE_OPTION) or \
            session.get_bind(mapper=self.model.__mapper__)
        if not self.copy_export or engine.dialect.name != "postgresql":
            return None
        formatters = self.column_type_formatters_export or {}
        if any(isinstance(sample, kind) for sample in (1, True, "text") for kind in formatters if kind is not type(None)):
            return None  # a screen that formats numbers or text by type: its cells are shaped here
        categories = getattr(self, "export_categories", {})
        cells = copy_cells([attribute.expression for attribute in plain], [categories.get(name) for name in columns])
        if cells is None:
            return None
        statement = query.with_entities(*[cell.label(f"c{i}") for i, cell in enumerate(cells)]).statement
        return CopyStream(engine, statement, stall_seconds=self.export_stall_seconds())

    def export_stall_seconds(self) -> float | None:
        """The longest wait for the next rows of a COPY: the request's statement timeout, plus
        :attr:`copy_stall_margin` for what the database's own clock does not see (a connection
        opened, a thread scheduled on a loaded machine)."""
        milliseconds = current_app.config["BACKOFFICE_SETTINGS"].statement_timeout_ms
        return milliseconds / 1000 + self.copy_stall_margin if milliseconds else None

    def _model_rows(self, query, columns: list[str]) -> Iterator[list]:
        value = self.get_export_value
        for model in query:
            yield [value(model, name) for name in columns]

    def _plain_columns(self, columns: list[str]) -> list | None:
        """The mapped column attributes when every cell is a column value the screen does not
        format itself; then rows are read as tuples, not models (several times faster)."""
        if type(self).get_export_value is not PresentationPart.get_export_value:
            return None  # a custom class shapes its cells: every cell goes through it
        formatters, choices = self.column_formatters_export or {}, self.column_choices or {}
        categories = getattr(self, "export_categories", {})  # cells the generated formatters shape
        attributes = []
        for name in columns:
            attribute = getattr(self.model, name, None) if isinstance(name, str) else None
            if (name in formatters and name not in categories) or name in choices or \
                    not isinstance(getattr(attribute, "property", None), ColumnProperty):
                return None
            attributes.append(attribute)
        return attributes

    def _plain_rows(self, query, columns: list[str]) -> Iterator[list]:
        """Cells exactly as :meth:`get_export_value` makes them: type formatters, then formula safety."""
        type_formatters = list((self.column_type_formatters_export or {}).items())
        categories = getattr(self, "export_categories", {})
        shaped = [categories.get(name) for name in columns]
        chosen: dict[type, Any] = {}
        for row in query:
            cells = []
            for name, category, value in zip(columns, shaped, row):
                if category is not None:
                    value = display_value(value, category, None)
                kind = type(value)
                formatter = chosen.get(kind, _UNSEEN)
                if formatter is _UNSEEN:
                    formatter = chosen[kind] = next((f for t, f in type_formatters if isinstance(value, t)), None)
                cells.append(formula_safe(value if formatter is None else formatter(self, value, name)))
            yield cells

    def _export_narrowing(self, args) -> dict[str, Any]:
        """The search, filters and sort of this export, as an auditor reads them."""
        filters = []
        for index, _name, value in args.filters or ():
            flt = list_filter(self, index)
            filters.append({"column": str(getattr(flt, "column", None).key if getattr(flt, "column", None)
                                          is not None else flt.name),
                            "operation": str(flt.operation()), "value": value})
        sort = column_by_index(self, args.sort)
        return {"search": args.search or None, "filters": filters,
                "sort": None if sort is None else ("-" if args.sort_desc else "") + str(sort[0]),
                "url": request.full_path[:500]}


def _text(value: Any) -> Any:
    return "" if value is None else value
