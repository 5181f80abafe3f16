"""The built-in audit writer: an ``audit_changeset`` hook like any other, run last."""
from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from . import chain
from audit_hooks.errors import AuditError
from audit_hooks.hookspecs import hookimpl

__all__ = ["AuditWriter"]


class AuditWriter:
    """Appends one chained row per changed row to ``backoffice_audit_events``."""

    @hookimpl(trylast=True)
    def audit_changeset(self, changeset):
        try:
            changeset.audit_ids.extend(chain.append(changeset.connection, changeset))
        except SQLAlchemyError as exc:
            raise AuditError(f"the audit trail could not be written, so nothing was saved "
                             f"({type(exc.orig or exc).__name__}: {str(exc.orig or exc).strip().splitlines()[0]}); "
                             "does backoffice_audit_events exist? (backoffice init-db)") from exc
