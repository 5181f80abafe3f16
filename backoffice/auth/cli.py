"""``backoffice hash-password``: a password hash, or a whole users-file line."""
from __future__ import annotations

import sys

import click
from werkzeug.security import generate_password_hash

from backoffice.core.access import ROLES

__all__ = ["register_commands", "hash_password_command"]


@click.command("hash-password")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--username", default=None, help="Print a whole users-file line for this username.")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True,
              help="Role of that line (with --username).")
def hash_password_command(from_stdin: bool, username: str | None, role: str) -> None:
    """Print a password hash for OPERATOR_AUTH_USERS_FILE (the password is asked twice, not echoed)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.ClickException("the password is empty")
    if username is not None and (not username or ":" in username or any(c.isspace() for c in username)):
        raise click.ClickException("the username must not be empty or contain ':' or spaces")
    if len(password) < 12:
        click.echo("warning: a password shorter than 12 characters is easy to guess", err=True)
    hashed = generate_password_hash(password)
    click.echo(f"{username}:{role}:{hashed}" if username else hashed)


def register_commands(group: click.Group) -> None:
    """The auth subsystem's commands."""
    group.add_command(hash_password_command)
