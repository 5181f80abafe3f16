"""Load a generated demo catalog into SQLite or PostgreSQL, set-based.

PostgreSQL gets ``COPY ... FROM STDIN`` in chunks (a million movies with five
million credits in a few minutes); SQLite gets chunked ``executemany``. No ORM
objects are built: the ORM would cost minutes per million rows.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import logging
import time

from sqlalchemy import Engine, text

from backoffice.demo.generator import DemoCatalog, generate
from backoffice.demo.schema import DEMO_TABLES, demo_metadata

__all__ = ["seed_demo"]

log = logging.getLogger(__name__)
_CHUNK = 50_000


def seed_demo(engine: Engine, movies: int = 2000, seed: int = 42, as_of: dt.datetime | None = None) -> DemoCatalog:
    """(Re-)create the demo tables on ``engine`` and fill them. Returns the catalog
    with its exact defect counts. Only the demo tables are dropped."""
    catalog, tables = generate(movies=movies, seed=seed, as_of=as_of)
    started = time.monotonic()
    demo_metadata.drop_all(engine, tables=list(reversed(DEMO_TABLES)))
    demo_metadata.create_all(engine, tables=list(DEMO_TABLES))
    postgres = engine.dialect.name == "postgresql"
    # On PostgreSQL secondary indexes are built once after COPY, not row by row during it.
    deferred = [index for table in DEMO_TABLES for index in table.indexes] if postgres else []
    with engine.begin() as conn:
        for index in deferred:
            index.drop(conn)
        for name, columns, rows in tables:
            loaded = _copy(conn, name, columns, rows) if postgres else _insert(conn, name, columns, rows)
            log.info("seed-demo: %s rows into %s", loaded, name)
        if postgres:
            for table in DEMO_TABLES:
                if "id" in table.c and table.c.id.primary_key and len(table.primary_key.columns) == 1:
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                    ))
        for index in deferred:
            index.create(conn)
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    log.info("seed-demo: %s movies in %.1fs", movies, time.monotonic() - started)
    return catalog


def _insert(conn, name: str, columns: tuple[str, ...], rows) -> int:
    statement = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    total = 0
    while chunk := list(itertools.islice(rows, _CHUNK)):
        conn.exec_driver_sql(statement, [tuple(_sqlite_value(v) for v in row) for row in chunk])
        total += len(chunk)
    return total


def _sqlite_value(value):
    # Stored the way SQLAlchemy's SQLite types read them back.
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _copy(conn, name: str, columns: tuple[str, ...], rows) -> int:
    cursor = conn.connection.dbapi_connection.cursor()
    statement = f"COPY {name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
    total = 0
    try:
        while chunk := list(itertools.islice(rows, _CHUNK)):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for row in chunk:
                # csv writes None as an empty unquoted field, which COPY reads as NULL.
                writer.writerow(row)
            buffer.seek(0)
            cursor.copy_expert(statement, buffer)
            total += len(chunk)
    finally:
        cursor.close()
    return total
