"""PostgreSQL writes the export's CSV itself (``COPY ... TO STDOUT``); the worker forwards it.

Reading a million rows through the driver costs more than the rest of the export: every
timestamp becomes a Python ``datetime`` and back into text. When every exported column
has a type whose cell the database can render exactly as the Python path renders it
(:func:`cell_sql`: integers, booleans, text, dates, timestamps, UUIDs, numerics), the
list's own query (search, filters and sort applied as on the screen) is wrapped in
``COPY (...) TO STDOUT WITH (FORMAT csv)`` with each column replaced by that rendering,
formula guard included. A column of any other type (floats, JSON, arrays, intervals,
binary, ``char(n)``...) keeps the whole export on the Python path of views/export.py.

The COPY runs on a thread of its own, on its own pooled connection in a read-only
transaction; rows travel to the response through a bounded queue, so a worker holds a
few chunks at most whatever the table's size. The request's statement timeout keeps its
meaning as a bound on a stall: when no row arrives for that long (a slow scan, a reader
that stopped reading) the COPY is cancelled and the file ends incomplete, as a server-side
cursor's FETCH would have timed out. A client that hangs up cancels the COPY too.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Text, case, cast, event, func, literal, not_
from psycopg2.extensions import encodings
from sqlalchemy import types as sqltypes

from backoffice.web.dbguard import shut_down_socket
from views.cells import FORMULA_PREFIXES, PLAIN_NUMBER

__all__ = ["cell_sql", "copy_cells", "CopyStream", "rendered_sql", "COPYABLE_CATEGORIES", "CHUNK_BYTES"]

#: Categories (views/columns.py) whose cells :func:`cell_sql` renders in SQL.
COPYABLE_CATEGORIES = frozenset({"integer", "boolean", "string", "text", "enum", "date", "datetime", "uuid",
                                 "numeric"})
#: Chunks of CSV held between the COPY and the response: the worker's memory bound.
QUEUE_CHUNKS = 8
#: Bytes of CSV gathered before handing them to the server (both export paths).
CHUNK_BYTES = 64 * 1024
_END = object()


def _formula_safe(text) -> Any:
    """views/cells.py's :func:`formula_safe` in SQL; '' becomes NULL, which COPY writes as the
    empty unquoted field Python's csv writer writes for an empty string."""
    starts = func.left(text, 1).in_(list(FORMULA_PREFIXES))
    guarded = case((starts & not_(text.regexp_match(f"^{PLAIN_NUMBER}$")), literal("'") + text), else_=text)
    return func.nullif(guarded, "")


def _offset(column) -> Any:
    """The UTC offset as ``isoformat`` writes it: ``+HH:MM``, and ``:SS`` only for an offset
    that is not whole minutes (local mean time before a zone's standard time)."""
    seconds = cast(func.date_part("timezone", column), sqltypes.Integer)
    return func.to_char(column, "TZH:TZM") + \
        case((seconds % 60 != 0, ":" + func.lpad(cast(func.abs(seconds) % 60, Text), 2, "0")), else_="")


def cell_sql(column, category: str) -> Any | None:
    """The SQL rendering of one column's export cell, the same text as the Python path gives
    (views/display.py ``display_value`` with no limit, then :func:`formula_safe`); None when
    this type has no exact SQL rendering here."""
    kind = column.type
    if category not in COPYABLE_CATEGORIES or type(kind).__name__.upper() in ("CHAR", "NCHAR", "BPCHAR"):
        return None  # char(n): casting to text drops the padding the driver keeps
    if category == "integer":
        return column
    if category == "boolean":
        return case((column, "True"), (not_(column), "False"))
    if category in ("string", "text", "enum", "numeric"):
        # numeric: the database's text is Decimal's fixed-point text (display_value formats it so)
        return _formula_safe(cast(column, Text))
    if category == "uuid":
        return cast(column, Text)
    if category == "date":
        # DateStyle ISO (set for the COPY): YYYY-MM-DD, as str(date); psycopg2 reads the
        # infinities as date.max and date.min
        return case((not_(func.isfinite(column)),
                     case((column > literal("epoch", sqltypes.Date), "9999-12-31"), else_="0001-01-01")),
                    else_=cast(column, Text))
    if category == "datetime":
        zoned = bool(getattr(kind, "timezone", False))
        # isoformat(sep=" "): microseconds only when there are some, always six digits
        stamp = func.to_char(column, "YYYY-MM-DD HH24:MI:SS") + \
            case((func.date_trunc("second", column) != column, func.to_char(column, ".US")), else_="")
        zone = ""
        if zoned:
            stamp, zone = stamp + _offset(column), "+00:00"  # the infinities read as UTC
        return case((not_(func.isfinite(column)),
                     case((column > literal("epoch", kind), "9999-12-31 23:59:59.999999" + zone),
                          else_="0001-01-01 00:00:00" + zone)),
                    (column < literal("0001-01-01", kind), None),  # BC: the driver cannot read it either
                    else_=stamp)
    return None


def copy_cells(columns: list, categories: list[str]) -> list | None:
    """Every column's SQL cell, or None when one of them has none (or a single column: COPY
    writes a lone empty field as nothing where Python's writer writes ``""``)."""
    if len(columns) < 2:
        return None
    cells = [cell_sql(column, category) for column, category in zip(columns, categories)]
    return None if any(cell is None for cell in cells) else cells


class _Sink:
    """The file psycopg2's ``copy_expert`` writes to: one call per row, gathered into chunks."""

    def __init__(self, stream: CopyStream, codec: str):
        self.stream, self.parts, self.size, self.rows = stream, [], 0, 0
        self.codec = None if codec.replace("-", "").replace("_", "").lower() == "utf8" else codec

    def write(self, data: bytes) -> None:
        if self.stream.stopped.is_set():
            raise _Stopped()
        if self.codec is not None:  # the response is UTF-8 whatever the connection speaks
            data = data.decode(self.codec).encode("utf-8")
        # COPY ends rows with LF; Python's csv writer (the other path) with CRLF.
        self.parts.append(data[:-1] + b"\r\n" if data.endswith(b"\n") else data)
        self.rows += 1
        self.size += len(data)
        if self.size >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.stream.put((b"".join(self.parts), self.rows))
            self.parts, self.size, self.rows = [], 0, 0


class _Stopped(Exception):
    """The response side stopped reading: end the COPY."""


class CopyStream:
    """One ``COPY ... TO STDOUT`` on its own thread and connection; iterate for CSV chunks.

    ``rows`` counts the rows handed out so far (COPY gives one write per row)."""

    def __init__(self, engine, statement, *, stall_seconds: float | None):
        self.engine, self.statement, self.stall_seconds = engine, statement, stall_seconds
        self.chunks: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.stopped = threading.Event()
        self.error: BaseException | None = None
        self.rows = 0
        self._raw = None
        self._thread = threading.Thread(target=self._run, name="export-copy", daemon=True)

    def put(self, item) -> None:
        while not self.stopped.is_set():  # a reader that stopped reading must not hold the thread forever
            try:
                self.chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise _Stopped()

    def _run(self) -> None:
        try:
            with self.engine.connect() as connection:
                self._raw = connection.connection.dbapi_connection
                try:
                    connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                    # One statement for the whole file: the stall bound replaces the per-statement one.
                    connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
                    connection.exec_driver_sql("SET LOCAL DateStyle = 'ISO, YMD'")  # dates as str(date)
                    sql = rendered_sql(connection, self.statement)
                    sink = _Sink(self, python_codec(self._raw))
                    with self._raw.cursor() as cursor:
                        cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", sink)
                    sink.flush()
                finally:
                    self._raw = None
                    if self.stopped.is_set():
                        connection.invalidate()  # ended mid-COPY: never hand it back to the pool
                    else:
                        connection.rollback()
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the response side, which ends the file incomplete
            if not self.stopped.is_set():
                self.error = exc
        finally:
            try:
                self.chunks.put_nowait(_END)
            except queue.Full:
                pass

    def __iter__(self) -> Iterator[bytes]:
        self._thread.start()
        while True:
            try:
                item = self.chunks.get(timeout=self.stall_seconds)
            except queue.Empty:
                self.error = TimeoutError(f"no rows for {self.stall_seconds:g} s")
                return
            if item is _END:
                return
            chunk, rows = item
            self.rows += rows
            yield chunk

    def close(self) -> None:
        """Stop the COPY when it still runs (cancelled, then its socket shut down if the
        database does not answer) and wait for its thread."""
        if self._thread.ident is None or not self._thread.is_alive():
            return
        self.stopped.set()
        raw = self._raw
        if raw is not None:
            canceller = threading.Thread(target=_cancel, args=(raw,), daemon=True)
            canceller.start()
            canceller.join(timeout=2)
        self._drain()
        self._thread.join(timeout=5)
        if self._thread.is_alive() and self._raw is not None:
            shut_down_socket(self._raw)  # a database that does not answer the cancel
            self._drain()
            self._thread.join(timeout=5)

    def _drain(self) -> None:
        try:
            while True:
                self.chunks.get_nowait()  # room for a producer waiting to put
        except queue.Empty:
            pass


def python_codec(raw) -> str:
    """The Python codec of a psycopg2 connection's client encoding."""
    return encodings.get(raw.encoding, raw.encoding)


def _cancel(raw) -> None:
    try:
        raw.cancel()
    except Exception:  # already ended, or the database is gone: the socket is shut down next
        pass


def rendered_sql(connection, statement) -> str:
    """``statement`` as the exact SQL text the driver would run, parameters bound by the driver
    itself (``mogrify``: its own quoting, never a literal rendering of operator input).

    SQLAlchemy compiles and processes the parameters as for any execution; the cursor call is
    swapped for an empty statement once the text has been taken."""
    taken: list[str] = []

    def take(_conn, cursor, sql, parameters, _context, _executemany):
        text = cursor.mogrify(sql, parameters)
        taken.append(text.decode(python_codec(cursor.connection)) if isinstance(text, bytes) else text)
        return "SELECT 1 WHERE false", ()

    event.listen(connection, "before_cursor_execute", take, retval=True)
    try:
        connection.execute(statement).close()
    finally:
        event.remove(connection, "before_cursor_execute", take)
    return taken[0]


