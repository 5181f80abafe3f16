"""Start-up check: can the console's own database role rewrite the audit trail?

With the two-role set-up (``backoffice init-db --owner ... --console-role ...``) the
console's role may only append to and read the audit table. When it can do more
(update, delete, truncate, or alter the table and so disable its trigger), the keyed
chain and its checkpoints are what is left to reveal a rewrite: the console logs a
warning and the dashboard shows it.
"""
from __future__ import annotations

import logging

from sqlalchemy import Engine

from models.own import audit_events, audit_table_powers

__all__ = ["check_privileges", "powers_warning"]

log = logging.getLogger(__name__)


def powers_warning(powers: list[str]) -> str | None:
    """The sentence shown to operators, or None when the role holds no such power."""
    if not powers:
        return None
    return (f"The console's database role can {', '.join(powers)} on the audit table: whoever holds its "
            "credentials can rewrite history, which only `backoffice audit-verify` with the signing key and the "
            "checkpoints would reveal. Run `backoffice init-db --owner OWNER --console-role ROLE` as the owner "
            "(docs/audit-integrity.md).")


def check_privileges(engine: Engine) -> list[str]:
    """What the role can do beyond INSERT and SELECT on the audit table; logged once when anything."""
    try:
        with engine.connect() as connection:
            powers = audit_table_powers(connection)
    except Exception as exc:  # a start-up check must not stop the console; say it could not run
        log.warning("could not check the privileges of the console's role on %s: %s", audit_events.name, exc)
        return []
    message = powers_warning(powers)
    if message:
        log.warning("%s", message)
    return powers
