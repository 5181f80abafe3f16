"""Benchmark: reflect a 500-table schema and build the console on it (PostgreSQL and SQLite).

    python -m benchmarks.bench_reflection [--tables 500] [--pg-url postgresql://...]

Without --pg-url a throwaway PostgreSQL cluster is started (testing_support) when the
server binaries are installed. Prints, per database: the seconds spent in
``reflect()`` and in ``create_app()`` beside the baseline (plain Flask-Admin, one
``ModelView`` per table automapped from the same schema), and how many SQL statements reflection ran
(a count that does not grow with the number of tables proves the multi-table
reflection of SQLAlchemy 2 is in use) and how many every engine ran during ``create_app()``
(a restart: the console's own tables exist); the CPU seconds beside each time are this
process's own (on a loaded machine the wall time mostly waits for a CPU); the first
request to a table screen without the warm-up gunicorn's master runs before it forks
(``views.lazy.warm_up``: mapper configuration), the warm-up's own time, and after it the
first requests to two screens never opened (screens are built on first use). ``--profile N`` then builds the console once
more under cProfile and prints the N entries with the most cumulative time (the
profiler slows pure-Python code unevenly: use it to see where, not how long).
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import tempfile
import time

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from console.app import create_app
from backoffice.core.settings import normalise_database_url
from models.reflection import reflect
from views import lazy
from testing_support import PostgresServer, find_binaries


def build_schema(url: str, tables: int) -> None:
    """``tables`` tables of eight columns, each referring to the previous one, plus a view per 50."""
    engine = create_engine(normalise_database_url(url))
    serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
    with engine.begin() as conn:
        for i in range(tables):
            ref = f", parent_id INTEGER REFERENCES t{i - 1:03d}(id)" if i else ""
            conn.execute(text(
                f"CREATE TABLE t{i:03d} (id {serial} PRIMARY KEY, name VARCHAR(80) NOT NULL, note TEXT, "
                f"amount NUMERIC(10, 2), ratio REAL, active BOOLEAN, created_at TIMESTAMP{ref})"))
            if i % 50 == 49:
                conn.execute(text(f"CREATE VIEW v{i:03d} AS SELECT id, name FROM t{i:03d}"))
    engine.dispose()


def plain_flask_admin(url: str) -> int:
    """The baseline: plain Flask-Admin, one ``ModelView`` per table automapped from the same
    schema (automap maps only tables with a primary key: the views get no screen). Returns
    the number of screens."""
    from flask import Flask
    from flask_admin import Admin
    from flask_admin.contrib.sqla import ModelView
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy import MetaData
    from sqlalchemy.ext.automap import automap_base

    app = Flask("plain_flask_admin")
    app.config["SECRET_KEY"] = "bench"
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(url)
    db = SQLAlchemy(app)
    with app.app_context():
        metadata = MetaData()
        metadata.reflect(db.engine, only=lambda name, _meta: not name.startswith("backoffice_"))  # the console's own
        base = automap_base(metadata=metadata)
        base.prepare()
        admin = Admin(app, name="Plain")
        models = list(base.classes)
        for model in models:
            admin.add_view(ModelView(model, db, endpoint=f"plain_{model.__table__.name}"))
        db.engine.dispose()
    return len(models)


class _Statements:
    """Counts the SQL statements every engine runs (and their seconds) inside ``with``."""

    def __init__(self):
        self.count, self.seconds, self._started = 0, 0.0, 0.0

    def _before(self, *_args):
        self._started = time.perf_counter()

    def _after(self, *_args):
        self.count += 1
        self.seconds += time.perf_counter() - self._started

    def __enter__(self):
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_exc):
        event.remove(Engine, "before_cursor_execute", self._before)
        event.remove(Engine, "after_cursor_execute", self._after)


def measure(label: str, url: str, profile: int = 0) -> None:
    gc.collect()  # the previous database's console is garbage now: freeing it is not this one's cost
    engine = create_engine(normalise_database_url(url))
    statements = 0

    def count(*_args):
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    started = time.perf_counter()
    reflection = reflect(engine)
    reflected = time.perf_counter() - started
    engine.dispose()
    relations = len(reflection.tables)
    # A real start-up has no other 510 mapped classes alive (mapper configuration
    # would configure them too, and the collector would scan them).
    del reflection
    gc.collect()
    config = {"DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "ERROR"}
    started = time.perf_counter()
    create_app(config)  # the first start creates the console's own tables: a restart is measured below
    first_start = time.perf_counter() - started
    gc.collect()
    app_statements = _Statements()
    started, cpu = time.perf_counter(), time.process_time()
    with app_statements:
        app = create_app(config)
    built, built_cpu = time.perf_counter() - started, time.process_time() - cpu
    # Screens are built on first use (views/deferral.py): without the warm-up, the first
    # request to any table screen pays the mapper configuration of the whole schema.
    client = app.test_client()
    started = time.perf_counter()
    status = client.get("/admin/t000/").status_code
    cold = time.perf_counter() - started
    del app, client
    gc.collect()
    app = create_app(config)
    started = time.perf_counter()
    warm_built = lazy.warm_up(app)  # what gunicorn's master does before it forks (console/gunicorn_conf.py)
    warmed = time.perf_counter() - started
    client = app.test_client()
    started = time.perf_counter()
    client.get("/admin/t000/")
    first = time.perf_counter() - started
    started = time.perf_counter()
    client.get("/admin/t001/")
    second = time.perf_counter() - started
    del app, client
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    screens = plain_flask_admin(url)
    plain, plain_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{label:<11} {relations:>4} relations  reflect {reflected:6.2f} s "
          f"({statements} SQL statements)  create_app {built:6.2f} s (CPU {built_cpu:5.2f} s, "
          f"{app_statements.count} SQL statements, {app_statements.seconds:4.2f} s in them)  "
          f"baseline: plain Flask-Admin + automap ({screens} screens) {plain:6.2f} s (CPU {plain_cpu:5.2f} s)  "
          f"ratio {built / plain:4.2f}")
    print(f"{'':<11} create_app on a database without the console's own tables (creates them) {first_start:6.2f} s")
    print(f"{'':<11} first request to a table screen, no warm-up {cold:6.2f} s (HTTP {status}, "
          f"mapper configuration included)")
    print(f"{'':<11} warm-up before fork (mappers, {warm_built} declared/custom screens) {warmed:6.2f} s; then the "
          f"first request to a screen never opened {first:6.3f} s, to a second one {second:6.3f} s")
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(create_app, {"DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "ERROR"})
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=500)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile create_app() and print the N costliest calls")
    parser.add_argument("--pg-url", help="an EMPTY PostgreSQL database to fill (default: a throwaway cluster)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{tmp}/bench.sqlite"
        build_schema(sqlite_url, args.tables)
        measure("sqlite", sqlite_url, args.profile)

    server = None
    pg_url = args.pg_url
    if pg_url is None:
        bindir = find_binaries()
        if bindir is None:
            print("postgresql: skipped (no server binaries; pass --pg-url)")
            return
        server = PostgresServer.start(bindir)
        pg_url = server.create_database("bench")
    try:
        build_schema(pg_url, args.tables)
        measure("postgresql", pg_url, args.profile)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
