"""Two small, real hooks to copy from. Enable them by dotted path::

    BACKOFFICE_AUDIT_HOOKS=audit_hooks.examples:require_delete_reason,audit_hooks.examples:log_changeset

or in the declarative file::

    [hooks]
    audit = ["audit_hooks.examples:require_delete_reason", "audit_hooks.examples:log_changeset"]
"""
from __future__ import annotations

import logging

from audit_hooks.errors import AuditVeto
from audit_hooks.hookspecs import hookimpl

__all__ = ["require_delete_reason", "log_changeset"]

log = logging.getLogger("backoffice.audit")


def require_delete_reason(changeset) -> None:
    """Veto: deleting rows needs a reason (a plain function is an ``audit_changeset`` hook)."""
    if not changeset.reason and any(row.op == "delete" for row in changeset.rows):
        tables = sorted({row.table for row in changeset.rows if row.op == "delete"})
        raise AuditVeto(f"A reason is required to delete rows of {', '.join(tables)}; nothing was deleted.")


@hookimpl(specname="audit_committed")
def log_changeset(changeset) -> None:
    """One structured (JSON) log line per committed change set."""
    log.info("audit %s by %s: %d row(s)", changeset.action, changeset.actor, len(changeset.rows),
             extra={"audit": changeset.as_dict()})
