"""``backoffice audit-verify`` and ``backoffice audit-checkpoint``.

audit-verify checks every row's links, hash and MAC, then the chain against the
signed checkpoints (truncation of the newest rows); it exits 1 naming the first
row that does not verify. audit-checkpoint records the chain's head now.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from sqlalchemy import insert, inspect
from sqlalchemy.exc import DBAPIError

from audit_hooks import checkpoints
from audit_hooks.chain import verify
from audit_hooks.signing import keyring_for
from backoffice.core.engine import create_engine
from backoffice.core.settings import SettingsError, load_settings
from models.own import audit_events, audit_verifications

__all__ = ["audit_verify", "audit_checkpoint", "register_commands"]


def _setup():
    try:
        settings = load_settings()
        return settings, keyring_for(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _engine(settings):
    engine = create_engine(settings)
    if audit_events.name not in inspect(engine).get_table_names():
        engine.dispose()
        raise click.ClickException(f"{audit_events.name} does not exist (run backoffice init-db)")
    return engine


def _record(engine, kind: str, ok: bool, rows: int | None, message: str) -> None:
    """Remember this run for the dashboard ("audit chain last verified"). Its own transaction,
    after the work: a console that cannot write it (an older schema) still verifies."""
    try:
        with engine.begin() as connection:
            connection.execute(insert(audit_verifications).values(
                at=dt.datetime.now(dt.timezone.utc), kind=kind, ok=int(ok), rows=rows, message=message[:2000]))
    except DBAPIError as error:
        click.echo(f"warning: this run was not recorded for the dashboard "
                   f"({str(getattr(error, 'orig', error)).strip().splitlines()[0]}; run backoffice init-db)", err=True)


@click.command("audit-verify")
@click.option("--checkpoints", "checkpoint_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Checkpoint file to check against (default: AUDIT_CHECKPOINT_FILE, else the instance folder's).")
def audit_verify(checkpoint_file: Path | None) -> None:
    """Verify the audit trail: links, hashes, MACs and checkpoints; exit 1 naming the first bad row."""
    settings, keyring = _setup()
    path = checkpoint_file or checkpoints.checkpoint_path(settings)
    marks, problems = checkpoints.read(path, keyring)
    for problem in problems:
        click.echo(f"checkpoint file: {problem}", err=True)
    engine = _engine(settings)
    try:
        with engine.connect() as connection:
            outcome = verify(connection, keyring, marks)
        if outcome.ok and not problems:
            summary = f"{outcome.checked} row(s), no break; {len(marks)} checkpoint(s) agree"
        elif outcome.ok:
            summary = f"{outcome.checked} row(s) link; checkpoint file: {problems[0]}"
        else:
            summary = f"broken at row id={outcome.bad_id}: {outcome.problem}"
        _record(engine, "verify", outcome.ok and not problems, outcome.checked, summary)
    finally:
        engine.dispose()
    if outcome.ok and not problems:
        note = f"; {outcome.unsigned} older row(s) carry no MAC (written before signing)" if outcome.unsigned else ""
        click.echo(f"audit chain verified: {outcome.checked} row(s), no break; {len(marks)} checkpoint(s) "
                   f"from {path} agree{note}")
        if not marks:
            click.echo("warning: no checkpoint to compare with: removal of the newest rows cannot be detected "
                       "(backoffice audit-checkpoint)", err=True)
        return
    if not outcome.ok:
        click.echo(f"audit chain BROKEN at row id={outcome.bad_id}: {outcome.problem} "
                   f"({outcome.checked} row(s) before it verify)", err=True)
    raise SystemExit(1)


@click.command("audit-checkpoint")
def audit_checkpoint() -> None:
    """Record a signed checkpoint of the audit chain (row count and newest hash) now."""
    settings, keyring = _setup()
    path = checkpoints.checkpoint_path(settings)
    engine = _engine(settings)
    try:
        with engine.begin() as connection:
            mark = checkpoints.take(connection, keyring, path)
        _record(engine, "checkpoint", True, mark.count, f"checkpoint of {mark.count} row(s), newest id {mark.head_id}")
    finally:
        engine.dispose()
    click.echo(f"checkpoint: {mark.count} row(s), newest id {mark.head_id}, hash {mark.head_hash[:16]}... "
               f"appended to {path}")


def register_commands(group: click.Group) -> None:
    """The audit subsystem's commands."""
    group.add_command(audit_verify)
    group.add_command(audit_checkpoint)
