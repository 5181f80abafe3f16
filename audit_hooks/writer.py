"""The built-in audit writer: an ``audit_changeset`` hook like any other, run last."""
from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from . import chain
from audit_hooks.errors import AuditError, describe_database_error
from audit_hooks.hookspecs import hookimpl
from audit_hooks.signing import Keyring

__all__ = ["AuditWriter"]


class AuditWriter:
    """Appends one chained, signed row per changed row to ``backoffice_audit_events``."""

    def __init__(self, keyring: Keyring, lock_timeout_ms: int = 0):
        self.keyring = keyring
        self.lock_timeout_ms = lock_timeout_ms

    @hookimpl(trylast=True)
    def audit_changeset(self, changeset):
        try:
            changeset.audit_ids.extend(chain.append(changeset.connection, changeset, self.keyring,
                                                    self.lock_timeout_ms))
        except SQLAlchemyError as exc:
            _kind, sentence = describe_database_error(exc)
            raise AuditError(f"the audit trail could not be written: {sentence}") from exc
