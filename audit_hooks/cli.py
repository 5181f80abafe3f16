"""``backoffice audit-verify``: check the whole audit chain, name the first bad row."""
from __future__ import annotations

import click
from sqlalchemy import inspect

from audit_hooks.chain import verify
from backoffice.core.engine import create_engine
from backoffice.core.settings import SettingsError, load_settings
from models.own import audit_events

__all__ = ["audit_verify", "register_commands"]


@click.command("audit-verify")
def audit_verify() -> None:
    """Verify the audit trail's hash chain; exit 1 naming the first row that does not verify."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    engine = create_engine(settings)
    try:
        if audit_events.name not in inspect(engine).get_table_names():
            raise click.ClickException(f"{audit_events.name} does not exist (run backoffice init-db)")
        with engine.connect() as connection:
            outcome = verify(connection)
    finally:
        engine.dispose()
    if outcome.ok:
        click.echo(f"audit chain verified: {outcome.checked} row(s), no break")
        return
    click.echo(f"audit chain BROKEN at row id={outcome.bad_id}: {outcome.problem} "
               f"({outcome.checked} row(s) before it verify)", err=True)
    raise SystemExit(1)


def register_commands(group: click.Group) -> None:
    """The audit subsystem's commands."""
    group.add_command(audit_verify)
