"""The hook points of the audit pipeline (pluggy hook specifications).

Implement them with :data:`hookimpl` in a module or object and register it through
``BACKOFFICE_AUDIT_HOOKS`` or ``[hooks] audit = [...]`` of the declarative file. A
plain function given by dotted path is registered as an ``audit_changeset`` hook.
The built-in audit writer (:mod:`audit_hooks.writer`) is itself such a hook.
"""
from __future__ import annotations

import pluggy

__all__ = ["PROJECT", "hookspec", "hookimpl", "AuditSpecs"]

PROJECT = "backoffice_audit"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate hook implementations with this (``@hookimpl`` or ``@hookimpl(trylast=True)``).
hookimpl = pluggy.HookimplMarker(PROJECT)


class AuditSpecs:
    """Namespace holding the specifications; pluggy reads them with ``add_hookspecs``."""

    @hookspec
    def audit_changeset(self, changeset):
        """Called once per change set, inside the database transaction, before commit.

        ``changeset`` is an :class:`audit_hooks.ChangeSet`: actor, role, action, reason,
        client address, request id and every inserted / updated / deleted row of a
        reflected table (primary key, old -> new values; the whole row for inserts and
        deletes). Writes a hook needs must go through ``changeset.connection`` (the
        transaction's connection), never through the ORM session.

        Raising aborts the whole transaction: the data changes and every audit row
        are rolled back. Raise :class:`audit_hooks.AuditVeto` with a sentence for the
        operator; it is shown as is. The built-in writer runs last (``trylast``), so
        vetoes run before anything is written.
        """

    @hookspec
    def audit_committed(self, changeset):
        """Called after the transaction holding ``changeset`` committed.

        For notifications and logs: the change is final. It cannot abort anything;
        an exception here is logged and otherwise ignored.
        """
