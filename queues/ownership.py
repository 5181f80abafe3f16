"""A queue owns its state columns and every column its effects change.

Generic screens show those columns read-only (:func:`owned_columns`, applied where
screens decide read-only columns), and :class:`OwnershipGuard`, an audit hook, refuses
any change to them that is not a queue action, whatever path it takes (edit form,
inline edit, bulk statement, a script): the queue's rules, effect and audit apply to
every decision, by construction.
"""
from __future__ import annotations

from dataclasses import dataclass

from audit_hooks import AuditVeto, hookimpl

from queues.spec import QueueSpec, resolve_effect

__all__ = ["owned_columns", "Owned", "OwnershipGuard", "QUEUE_ACTION_PREFIX"]

#: Audit action names of queue actions (``review.apply``...): the only writers of owned columns.
QUEUE_ACTION_PREFIX = "review."


@dataclass(frozen=True)
class Owned:
    """Why a column is the queue's, and whether a new row may still be given a value for it
    (a column of another table, e.g. a new movie's known tmdb_id: data entry, not a decision)."""

    reason: str
    on_create: bool = False


def owned_columns(queues: list[QueueSpec], reflection) -> dict[str, dict[str, Owned]]:
    """Screen (table) name -> {column: :class:`Owned`} for every queue of the console."""
    owned: dict[str, dict[str, Owned]] = {}
    for queue in queues:
        where = Owned(f"set only by the {queue.label} queue's actions (/admin/{queue.url}/)")
        table = owned.setdefault(queue.table, {})
        for column in (queue.status, queue.decided_by, queue.decided_at, queue.note):
            if column:
                table.setdefault(column, where)
        for action in queue.actions.values():
            if not action.effect:
                continue
            try:
                owns = getattr(resolve_effect(action.effect), "owns", {}) or {}
            except (ImportError, AttributeError, ValueError):  # reported by the queue checks (E074)
                continue
            for role, columns in owns.items():
                target = queue.subject_table if role == "subject" else queue.table if role == "queue" else role
                if target in reflection.tables:
                    for column in columns:
                        owned.setdefault(target, {}).setdefault(column, Owned(
                            f"changed only by the {queue.label} queue's {action.name} action (/admin/{queue.url}/)",
                            on_create=target != queue.table))
    return owned


class OwnershipGuard:
    """Audit hook: a change to an owned column outside a queue action is refused."""

    def __init__(self, queues: list[QueueSpec], reflection):
        self.owned = {reflection.tables[t].qualified_name: cols
                      for t, cols in owned_columns(queues, reflection).items() if t in reflection.tables}
        self.defaults = {reflection.tables[q.table].qualified_name: (q.status, q.default_state)
                         for q in queues if q.table in reflection.tables}

    @hookimpl(tryfirst=True)
    def audit_changeset(self, changeset):
        if changeset.explicit_action and changeset.action.startswith(QUEUE_ACTION_PREFIX):
            return
        for row in changeset.rows:
            owned = self.owned.get(row.table)
            if not owned or row.rule:  # what a foreign key's rule did is not a decision
                continue
            if row.op == "insert" and changeset.explicit_action and changeset.action == "revert":
                continue  # a deleted row restored with its audited values (audit_hooks/revert.py), no decision
            if row.op == "update":
                touched = sorted(set(row.new) & set(owned))
            elif row.op == "insert" and row.table in self.defaults:
                status, default = self.defaults[row.table]
                touched = sorted(c for c in owned if row.new.get(c) is not None
                                 and not (c == status and row.new.get(c) == default))
            else:
                touched = []
            if touched:
                column = touched[0]
                raise AuditVeto(f"{row.table}.{column} of #{row.entity_id} is {owned[column].reason}; "
                                "nothing was saved")
