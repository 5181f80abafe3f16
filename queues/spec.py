"""Review queues, declared as data: table, status column, actions and their effects.

A queue is a table whose rows each propose something (the TMDB queue: "movie X
is TMDB title Y"); operators move rows between states with actions. An action
names the states it may start from, the state it leads to, whether a reason is
required, the least role allowed, and optionally an *effect*: a Python function
(dotted path) that changes other rows in the same transaction (apply: set the
movie's tmdb_id). Without a ``[queues]`` section the TMDB queue is declared by
default, adapted to the schema's column names or switched off when it cannot fit
(:mod:`queues.fitting`). The checks of a declaration against the schema and the
``[queues.*]`` options are in :mod:`queues.checks`.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backoffice.core.access import ROLES
from backoffice.core.declarations import Declarations
from backoffice.core.defaults import DefaultOff
from queues.fitting import fit_default_queue

__all__ = ["Change", "ActionSpec", "QueueSpec", "queue_specs", "declared_entries", "resolve_effect", "DEFAULT_QUEUES",
           "defaults_off", "REVERSE_CHOICES"]

#: How a decision is reversed (audit history, "Revert..."): ``restore`` puts back every row the
#: decision changed (the queue row's state and decision columns, and what its effect changed,
#: all audited with it), each checked for later changes; ``none``: it cannot be reversed.
REVERSE_CHOICES = ("restore", "none")


@dataclass(frozen=True)
class Change:
    """One value an action will change, shown before the operator confirms."""

    what: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ActionSpec:
    """One action of a queue."""

    name: str
    from_states: tuple[str, ...]
    to: str
    reason: str = "optional"  # required | optional | none
    effect: str | None = None
    role: str = "operator"
    label: str | None = None
    #: At most one row per subject may be in ``to``: the action is refused while another
    #: row of the same subject is there, naming it (the TMDB queue's apply).
    exclusive: bool = False
    #: How a decision is reversed (REVERSE_CHOICES). Default: ``restore`` without an effect,
    #: ``none`` with one, since only the declaration can vouch that the effect's writes are all
    #: it did.
    reverse: str = "restore"
    #: Two-person approval: the role that must approve each decision before it is applied
    #: (views/approval_store.py); None: applied at once.
    approval: str | None = None
    #: Hours a held decision waits for approval before it expires; None: the console's default (24).
    approval_hours: int | None = None

    @property
    def reversible(self) -> bool:
        return self.reverse == "restore"

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class QueueSpec:
    """A review queue, fully resolved with defaults."""

    name: str
    table: str
    actions: dict[str, ActionSpec]
    label: str = "Review queue"
    url: str = "review-queue"
    status: str = "status"
    default_state: str = "pending"
    states: tuple[str, ...] = ()
    decided_by: str | None = "decided_by"
    decided_at: str | None = "decided_at"
    note: str | None = "decision_note"
    updated_at: str | None = "updated_at"
    created_at: str | None = "created_at"
    score: str | None = "match_score"
    subject_table: str | None = None
    subject_column: str | None = None
    subject_show: tuple[str, ...] = ()
    show: tuple[str, ...] = ()
    #: Label -> (subject column, queue column), compared side by side on the queue page.
    compare: dict[str, tuple[str, str]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    bulk_confirm_over: int = 20
    open_states_declared: tuple[str, ...] = ()

    @property
    def open_states(self) -> tuple[str, ...]:
        """States of an undecided row: declared, else every state an action starts from."""
        if self.open_states_declared:
            return self.open_states_declared
        return tuple(dict.fromkeys(s for a in self.actions.values() for s in a.from_states))

    def all_states(self) -> tuple[str, ...]:
        found = list(self.states)
        for action in self.actions.values():
            for state in (*action.from_states, action.to):
                if state not in found:
                    found.append(state)
        return tuple(found)


#: The TMDB match-review queue, as it would be written in the file.
DEFAULT_QUEUES: dict[str, dict[str, Any]] = {
    "tmdb_matches": {
        "table": "tmdb_match_reviews",
        "label": "TMDB match review",
        "url": "review-queue",
        "states": ["pending", "deferred", "applied", "rejected"],
        "subject": {"table": "movies", "column": "movie_id", "show": ["title", "release_date", "tmdb_id"]},
        "show": ["candidate_title", "candidate_release_date", "candidate_tmdb_id", "match_score", "match_reason"],
        "compare": {"Title": ["title", "candidate_title"],
                    "Release date": ["release_date", "candidate_release_date"],
                    "TMDB id": ["tmdb_id", "candidate_tmdb_id"]},
        "links": {"candidate_tmdb_id": "https://www.themoviedb.org/movie/{candidate_tmdb_id}"},
        "actions": {
            "apply": {"from": ["pending", "deferred"], "to": "applied", "label": "Apply", "exclusive": True,
                      "effect": "queues.effects:apply_tmdb_match", "reverse": "restore"},
            "reject": {"from": ["pending", "deferred"], "to": "rejected", "reason": "required", "label": "Reject"},
            "defer": {"from": ["pending"], "to": "deferred", "reason": "optional", "label": "Defer"},
            "reopen": {"from": ["deferred"], "to": "pending", "reason": "optional", "label": "Back to pending"},
        },
    },
}


def _column_or_none(value: Any, default: str | None) -> str | None:
    if value is None:
        return default
    return value or None


def _spec(name: str, entry: dict[str, Any], first: bool) -> QueueSpec:
    subject = entry.get("subject") or {}
    actions = {
        action_name: ActionSpec(
            name=action_name,
            from_states=tuple(raw.get("from", ())),
            to=raw.get("to", ""),
            reason=raw.get("reason", "optional"),
            effect=raw.get("effect"),
            role=raw.get("role", "operator"),
            label=raw.get("label"),
            exclusive=raw.get("exclusive") is True,
            reverse=raw.get("reverse") or ("none" if raw.get("effect") else "restore"),
            approval=raw.get("approval") if raw.get("approval") in ROLES else None,
            approval_hours=raw["approval_hours"] if isinstance(raw.get("approval_hours"), int)
            and not isinstance(raw.get("approval_hours"), bool) and 1 <= raw["approval_hours"] <= 720 else None,
        )
        for action_name, raw in (entry.get("actions") or {}).items()
        if isinstance(raw, dict)
    }
    return QueueSpec(
        name=name,
        table=entry.get("table", ""),
        actions=actions,
        label=entry.get("label", name.replace("_", " ").capitalize()),
        url=(entry.get("url") or ("review-queue" if first else f"queues/{name}")).strip("/"),
        status=entry.get("status", "status"),
        default_state=entry.get("default_state", "pending"),
        states=tuple(entry.get("states", ())),
        decided_by=_column_or_none(entry.get("decided_by"), "decided_by"),
        decided_at=_column_or_none(entry.get("decided_at"), "decided_at"),
        note=_column_or_none(entry.get("note"), "decision_note"),
        updated_at=_column_or_none(entry.get("updated_at"), "updated_at"),
        created_at=_column_or_none(entry.get("created_at"), "created_at"),
        score=_column_or_none(entry.get("score"), "match_score"),
        subject_table=subject.get("table"),
        subject_column=subject.get("column"),
        subject_show=tuple(subject.get("show", ())),
        show=tuple(entry.get("show", ())),
        compare={str(label): tuple(pair) for label, pair in (entry.get("compare") or {}).items()
                 if isinstance(pair, (list, tuple)) and len(pair) == 2},
        links=dict(entry.get("links") or {}),
        bulk_confirm_over=int(entry.get("bulk_confirm_over", 20)),
        open_states_declared=tuple(entry.get("open_states", ())),
    )


def declared_entries(declarations: Declarations, reflection) -> dict[str, dict[str, Any]]:
    if declarations.queues:
        return declarations.queues
    fitted = {name: fit_default_queue(name, entry, reflection) for name, entry in DEFAULT_QUEUES.items()}
    return {name: entry for name, (entry, _used, _off) in fitted.items() if entry is not None}


def defaults_off(declarations: Declarations, reflection) -> list[DefaultOff]:
    """The built-in queues that do not fit this schema and are switched off (none when the
    file declares queues: then the defaults do not apply at all)."""
    if declarations.queues:
        return []
    return [off for name, entry in DEFAULT_QUEUES.items() if (off := fit_default_queue(name, entry, reflection)[2])]


def queue_specs(declarations: Declarations, reflection) -> list[QueueSpec]:
    """The queues of this console (declared, or the default TMDB queue)."""
    return [_spec(name, entry, index == 0) for index, (name, entry) in
            enumerate(declared_entries(declarations, reflection).items()) if isinstance(entry, dict)]


def resolve_effect(path: str) -> Callable[..., Any]:
    """Import ``package.module:function``; raises ImportError/AttributeError/ValueError."""
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"'{path}' is not of the form package.module:function")
    target = getattr(importlib.import_module(module_name), attribute)
    if not callable(target):
        raise ValueError(f"'{path}' is not callable")
    return target
