"""The ``backoffice`` command line: Flask's CLI around :func:`console.app.create_app`.

Commands that need the whole console (``catalog-health``) get it from Flask's CLI;
the others need only the settings and an engine from :mod:`backoffice.core.engine`,
so they work when the console cannot start (a declarative file with errors, an
empty database). Each subsystem adds its own commands through ``register_commands``.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from pathlib import Path

import click
from flask.cli import AppGroup, FlaskGroup
from sqlalchemy.exc import DBAPIError

import audit_hooks.cli
import backoffice.auth.cli
import backoffice.catalog.cli
import backoffice.indexes
import views.page_spec
import views.scaffold
from console.app import console_rules, create_app
from backoffice.core.declarations import DeclarationError, check_all, load_declarations
from backoffice.core.engine import create_engine, database_url, demo_database_path
from backoffice.core.settings import SettingsError, load_settings, redact_url
from backoffice.demo import seed_demo
from models.own import init_db
from models.reflection import reflect
from views.report import defaults_not_applicable, report_text

__all__ = ["main"]


def _create_app():
    """create_app() from the environment; configuration errors become a clean exit."""
    try:
        return create_app()
    except (SettingsError, DeclarationError) as exc:
        raise click.ClickException(str(exc)) from None


class ConsoleGroup(FlaskGroup):
    """Flask's CLI for the console: commands that need the app get it from
    :func:`_create_app`. Every command is ours and registered below, so listing or
    finding one never builds the app (``app.cli`` holds none)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return AppGroup.list_commands(self, ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return AppGroup.get_command(self, ctx, name)


main = ConsoleGroup(
    name="backoffice",
    help="Backoffice: an operator console generated from your SQL schema.",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
# The console is configured by its environment only (backoffice/core/settings.py):
# Flask's --app, --env-file and --debug options would bypass that.
main.params = [p for p in main.params if p.name not in ("app", "env_file", "debug")]


@main.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port (default: PORT, else 3000).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--reload", "reload_", is_flag=True,
              help="Development: rebuild the screens when the declarative file changes; a file with errors "
                   "keeps the previous screens and shows the problems on every page (one worker).")
def serve(host: str, port: int | None, workers: int, reload_: bool) -> None:
    """Serve the console with gunicorn, configured as in the container (console/gunicorn_conf.py)."""
    settings = _settings()
    port = port or settings.port
    target = "console.reloading:application" if reload_ else "wsgi:app"
    workers = 1 if reload_ else workers  # each worker would rebuild on its own
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:console.gunicorn_conf", "--bind", f"{host}:{port}",
            "--workers", str(workers), "--no-control-socket", "--access-logfile", "-", target]
    mode = ", reloading the declarative file" if reload_ else ""
    click.echo(f"Backoffice on http://{host}:{port}/admin/ ({workers} gunicorn workers{mode})")
    sys.stdout.flush()
    os.execv(sys.executable, argv)  # gunicorn becomes this process: signals reach its master directly


@main.command("seed-demo", with_appcontext=False)
@click.option("--movies", type=click.IntRange(min=1), default=2000, show_default=True, help="Number of movies.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed (same seed, same catalog).")
@click.option("--report", is_flag=True, help="Print the exact planted defect counts as JSON.")
def seed_demo_command(movies: int, seed: int, report: bool) -> None:
    """(Re-)create the demo catalog tables in DATABASE_URL and fill them.

    A maintenance command: it runs without the console's per-request statement timeout
    (STATEMENT_TIMEOUT_MS), since copying a million movies' credits takes longer than any
    page may.
    """
    settings = dataclasses.replace(_settings(), statement_timeout_ms=0)  # 0: no timeout (engine.py)
    url = database_url(settings)
    if settings.database_url is None:
        demo_database_path().parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    engine = create_engine(settings, url)
    try:
        catalog = seed_demo(engine, movies=movies, seed=seed)
        init_db(engine)
    finally:
        engine.dispose()
    if report:
        click.echo(json.dumps(catalog.counts.as_dict(), indent=2))
    else:
        click.echo(f"seeded {movies} movies (seed {seed}) into {redact_url(url)}")


@main.command("init-db", with_appcontext=False)
@click.option("--owner", default=None, metavar="ROLE",
              help="PostgreSQL: make ROLE own the console's tables (run as a superuser or a member of ROLE).")
@click.option("--console-role", default=None, metavar="ROLE",
              help="PostgreSQL: grant ROLE (the console's login) only INSERT and SELECT on the audit table.")
def init_db_command(owner: str | None, console_role: str | None) -> None:
    """Create the console's own tables (idempotent). Never touches reflected tables.

    Least privilege: run it as the owning role with --console-role (docs/audit-integrity.md)."""
    settings = _settings()
    if settings.database_url is None:
        raise click.ClickException("DATABASE_URL is not set; the embedded demo database is initialised on first start")
    engine = create_engine(settings)
    try:
        created = init_db(engine, owner=owner, console_role=console_role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # e.g. the role does not exist, or this login may not hand tables over
        raise click.ClickException(f"init-db failed: {str(getattr(exc, 'orig', exc)).strip()}") from None
    finally:
        engine.dispose()
    click.echo("created: " + ", ".join(created) if created else "nothing to do: the console's tables exist")


@main.command(with_appcontext=False)
def check() -> None:
    """Validate the declarative file against the reflected schema; non-zero on errors."""
    settings = _settings()
    if settings.database_url is None:
        raise click.ClickException("DATABASE_URL is not set: nothing to check against")
    declarations = load_declarations(settings.config_path())
    engine = create_engine(settings)
    try:
        try:
            reflection = reflect(engine, schemas=settings.backoffice_schemas)
        except DBAPIError as exc:  # unreachable, refused, not a database: say so, without the password
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise click.ClickException(f"cannot read {redact_url(settings.database_url)}: {reason}") from None
        click.echo(report_text(reflection, defaults_not_applicable(declarations, reflection)))
        problems = check_all(declarations, reflection, console_rules(settings.backoffice_custom_views))
        problems += views.page_spec.live_problems(engine, declarations, settings.statement_timeout_ms)
    finally:
        engine.dispose()
    for found in problems:
        click.echo(f"{found.level.upper()}: {found}")
    errors_found = sum(1 for p in problems if p.is_error)
    click.echo(f"{len(reflection.tables)} tables and views reflected; {declarations.file}: "
               f"{errors_found} errors, {len(problems) - errors_found} warnings")
    if errors_found:
        raise SystemExit(1)


@main.command(with_appcontext=False)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the schema to this file instead of standard output.")
def schema(output: Path | None) -> None:
    """Print the declarative file's JSON Schema (for editor completion and validation)."""
    text = json.dumps(console_rules().json_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}; point your TOML editor at it with a first line '#:schema ./{output.name}'")


def _settings():
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


backoffice.auth.cli.register_commands(main)
audit_hooks.cli.register_commands(main)
backoffice.catalog.cli.register_commands(main)
backoffice.indexes.register_commands(main)
views.scaffold.register_commands(main, lambda: console_rules().json_schema())

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
