"""The ``backoffice`` command line. Each command builds the app it needs itself."""
from __future__ import annotations

import json
import logging
import sys

import click

from .accounts import hash_password_command
from .settings import SettingsError, load_settings

__all__ = ["main", "build_app"]


def build_app():
    """create_app() from the environment; configuration errors become a clean exit."""
    from .app import create_app

    from .declarations import DeclarationError

    try:
        return create_app()
    except (SettingsError, DeclarationError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main() -> None:
    """Backoffice: an operator console generated from your SQL schema."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port (default: PORT, else 3000).")
def serve(host: str, port: int | None) -> None:
    """Serve the console locally (threaded development server; use gunicorn in production)."""
    from werkzeug.serving import run_simple

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    app = build_app()
    port = port or settings.port
    click.echo(f"Backoffice on http://{host}:{port}/admin/")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command("seed-demo")
@click.option("--movies", type=click.IntRange(min=1), default=2000, show_default=True, help="Number of movies.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed (same seed, same catalog).")
@click.option("--report", is_flag=True, help="Print the exact planted defect counts as JSON.")
def seed_demo_command(movies: int, seed: int, report: bool) -> None:
    """(Re-)create the demo catalog tables in DATABASE_URL and fill them."""
    from sqlalchemy import create_engine

    from models.own import init_db

    from .database import DEMO_FILE
    from .demo import seed_demo

    settings = _settings()
    url = settings.database_url
    if url is None:
        from pathlib import Path

        path = Path.cwd() / "instance" / DEMO_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    engine = create_engine(url)
    try:
        catalog = seed_demo(engine, movies=movies, seed=seed)
        init_db(engine)
    finally:
        engine.dispose()
    if report:
        click.echo(json.dumps(catalog.counts.as_dict(), indent=2))
    else:
        click.echo(f"seeded {movies} movies (seed {seed}) into {_safe_url(url)}")


@main.command("init-db")
def init_db_command() -> None:
    """Create the console's own tables (idempotent). Never touches reflected tables."""
    from sqlalchemy import create_engine

    from models.own import init_db

    settings = _settings()
    if settings.database_url is None:
        raise click.ClickException("DATABASE_URL is not set; the embedded demo database is initialised on first start")
    engine = create_engine(settings.database_url)
    try:
        created = init_db(engine)
    finally:
        engine.dispose()
    click.echo("created: " + ", ".join(created) if created else "nothing to do: the console's tables exist")


@main.command()
def check() -> None:
    """Validate the declarative file against the reflected schema; non-zero on errors."""
    from sqlalchemy import create_engine

    import views  # noqa: F401  (importing the subsystems registers their declaration checks)
    from models.reflection import reflect

    from .declarations import check_all, load_declarations

    settings = _settings()
    if settings.database_url is None:
        raise click.ClickException("DATABASE_URL is not set: nothing to check against")
    declarations = load_declarations(settings.config_path())
    engine = create_engine(settings.database_url)
    try:
        reflection = reflect(engine, schemas=settings.backoffice_schemas)
    finally:
        engine.dispose()
    from views.report import report_text

    click.echo(report_text(reflection))
    problems = check_all(declarations, reflection)
    for found in problems:
        click.echo(f"{found.level.upper()}: {found}")
    errors_found = sum(1 for p in problems if p.is_error)
    click.echo(f"{len(reflection.tables)} tables and views reflected; {declarations.file}: "
               f"{errors_found} errors, {len(problems) - errors_found} warnings")
    if errors_found:
        raise SystemExit(1)


def _settings():
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


main.add_command(hash_password_command)
from audit_hooks.cli import audit_verify  # noqa: E402  (commands of other packages, registered last)

main.add_command(audit_verify)

from .scaffold import scaffold_command  # noqa: E402  (commands living in their own modules)

main.add_command(scaffold_command)
from .catalog.cli import catalog_health_command  # noqa: E402  (registered below, one line per module)

main.add_command(catalog_health_command)

from .bench import bench as _bench  # noqa: E402  (stdlib and click only at import)

main.add_command(_bench)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
