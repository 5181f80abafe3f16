"""Review queues, declared as data: table, status column, actions and their effects.

A queue is a table whose rows each propose something (the TMDB queue: "movie X
is TMDB title Y"); operators move rows between states with actions. An action
names the states it may start from, the state it leads to, whether a reason is
required, the least role allowed, and optionally an *effect*: a Python function
(dotted path) that changes other rows in the same transaction (apply: set the
movie's tmdb_id). Without a ``[queues]`` section the TMDB queue is declared by
default, adapted to the schema's column names or switched off when it cannot fit
(:mod:`queues.fitting`).
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from backoffice.core.access import ROLES
from backoffice.core.declarations import (
    Declarations, Option, Rules, did_you_mean, problem,
)
from backoffice.core.defaults import DefaultOff
from queues.fitting import fit_default_queue

__all__ = ["register_rules", "Change", "ActionSpec", "QueueSpec", "queue_specs", "resolve_effect", "DEFAULT_QUEUES",
           "defaults_off"]

log = logging.getLogger(__name__)

QUEUE_PROBLEM_IDS = {
    "backoffice.E070": "a queue names a table that was not reflected",
    "backoffice.E071": "a queue option names a column that the queue's table does not have",
    "backoffice.E072": "a queue declares no actions, or an action is not a table",
    "backoffice.E080": "an action's approval names an unknown role",
    "backoffice.E073": "an action option is unknown or has the wrong type",
    "backoffice.E074": "an action's effect cannot be imported",
    "backoffice.E075": "an action names an unknown role",
    "backoffice.E076": "an action's reason must be required, optional or none",
    "backoffice.E077": "a queue's subject table or column is unknown",
    "backoffice.E078": "a queue's URL collides with another queue's",
    "backoffice.E079": "an action's reverse must be restore or none (an action with an effect must say which)",
}

QUEUE_OPTIONS = (
    Option("table", "str", "The table holding one row per proposal.", example='"tmdb_match_reviews"'),
    Option("label", "str", "Menu and page title.", default="the queue name", example='"TMDB matches"'),
    Option("url", "str", "Path under /admin/.", default="review-queue (first queue), else queues/<name>",
           example='"review-queue"'),
    Option("status", "str", "Column holding the row's state.", default="status"),
    Option("default_state", "str", "State listed when no filter is chosen.", default="pending"),
    Option("states", "str-list", "Every state a row can be in (used by the filter).",
           example='["pending", "deferred", "applied", "rejected"]'),
    Option("decided_by", "str", "Column that records who acted (empty string: none).", default="decided_by"),
    Option("decided_at", "str", "Column that records when (empty string: none).", default="decided_at"),
    Option("note", "str", "Column that records the reason or note (empty string: none).",
           default="decision_note"),
    Option("updated_at", "str", "Column touched on every action (empty string: none).", default="updated_at"),
    Option("created_at", "str", "Column used for age filters and sorting.", default="created_at"),
    Option("score", "str", "Numeric column used for score filters and sorting (empty: none).",
           default="match_score"),
    Option("subject", "table", "The row each proposal is about: {table, column, show}.",
           example='{ table = "movies", column = "movie_id", show = ["title", "release_date", "tmdb_id"] }'),
    Option("show", "str-list", "Columns of the queue row shown beside the subject.",
           example='["candidate_title", "candidate_release_date", "candidate_tmdb_id", "match_score"]'),
    Option("compare", "dict", "Label -> [subject column, queue column]: shown side by side, differences "
           "highlighted.", example='{ Title = ["title", "candidate_title"] }'),
    Option("links", "dict", "Column -> URL template rendered as a link ({column} placeholders).",
           example='{ candidate_tmdb_id = "https://www.themoviedb.org/movie/{candidate_tmdb_id}" }'),
    Option("actions", "table", "Action name -> {from, to, reason, effect, role, label, exclusive, reverse}; "
           "reverse = restore | none says whether a decision can be reverted from the audit history "
           "(default: restore without an effect, none with one).",
           example='{ reject = { from = ["pending"], to = "rejected", reason = "required" } }'),
    Option("bulk_confirm_over", "int", "Bulk actions on more rows than this require typing the count.",
           default=20),
    Option("open_states", "str-list", "States in which a row is still undecided: an exclusive action closes "
           "the subject's other rows in these states.", default="every state an action starts from",
           example='["pending", "deferred"]'),
)

_ACTION_KEYS = {"from": "str-list", "to": "str", "reason": "str", "effect": "str", "role": "str", "label": "str",
                "exclusive": "bool", "reverse": "str", "approval": "str"}
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


def _entries(declarations: Declarations, reflection) -> dict[str, dict[str, Any]]:
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


def _log_defaults(declarations: Declarations, reflection) -> None:
    """Once per start-up (and per `backoffice check`): what the default queue made of the schema."""
    if declarations.queues:
        return
    for name, entry in DEFAULT_QUEUES.items():
        _entry, used, off = fit_default_queue(name, entry, reflection)
        if off is not None:
            log.warning("review queue: built-in queue %s (the schema report has the declaration that would "
                        "enable it)", off)
        elif used:
            log.info("review queue: built-in queue %s uses %s", name, "; ".join(used))


def queue_specs(declarations: Declarations, reflection) -> list[QueueSpec]:
    """The queues of this console (declared, or the default TMDB queue)."""
    return [_spec(name, entry, index == 0) for index, (name, entry) in
            enumerate(_entries(declarations, reflection).items()) if isinstance(entry, dict)]


def resolve_effect(path: str) -> Callable[..., Any]:
    """Import ``package.module:function``; raises ImportError/AttributeError/ValueError."""
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"'{path}' is not of the form package.module:function")
    target = getattr(importlib.import_module(module_name), attribute)
    if not callable(target):
        raise ValueError(f"'{path}' is not callable")
    return target


def _check_queues(declarations: Declarations, reflection) -> Iterable:
    """Validate every declared queue against the reflected schema."""
    _log_defaults(declarations, reflection)
    urls: dict[str, str] = {}
    for spec in queue_specs(declarations, reflection):
        prefix = f"queues.{spec.name}"
        entry = reflection.tables.get(spec.table)
        if entry is None:
            yield problem("backoffice.E070", declarations, f"{prefix}.table",
                          f"'{spec.table}' is not a reflected table", table=spec.table,
                          hint=did_you_mean(spec.table, reflection.tables))
            continue
        columns = [c.name for c in entry.table.columns]
        named = [("status", spec.status), ("decided_by", spec.decided_by), ("decided_at", spec.decided_at),
                 ("note", spec.note), ("updated_at", spec.updated_at), ("created_at", spec.created_at),
                 ("score", spec.score), ("subject.column", spec.subject_column)]
        named += [(f"show[{i}]", c) for i, c in enumerate(spec.show)]
        named += [(f"links.{c}", c) for c in spec.links]
        named += [(f"compare.{label}[1]", pair[1]) for label, pair in spec.compare.items()]
        for label, pair in ((_entries(declarations, reflection).get(spec.name) or {}).get("compare") or {}).items():
            if label not in spec.compare or not all(isinstance(c, str) for c in pair):
                yield problem("backoffice.E071", declarations, f"{prefix}.compare.{label}",
                              "a compared pair is [subject column, queue column]", table=spec.table)
        for option, column in named:
            if column and column not in columns:
                yield problem("backoffice.E071", declarations, f"{prefix}.{option}",
                              f"'{column}' is not a column of '{spec.table}'", table=spec.table,
                              hint=did_you_mean(column, columns))
        if spec.subject_table:
            subject = reflection.tables.get(spec.subject_table)
            if subject is None:
                yield problem("backoffice.E077", declarations, f"{prefix}.subject.table",
                              f"'{spec.subject_table}' is not a reflected table", table=spec.table,
                              hint=did_you_mean(spec.subject_table, reflection.tables))
            else:
                subject_columns = [c.name for c in subject.table.columns]
                compared = [(f"compare.{label}[0]", pair[0]) for label, pair in spec.compare.items()]
                for option, column in compared:
                    if column not in subject_columns:
                        yield problem("backoffice.E077", declarations, f"{prefix}.{option}",
                                      f"'{column}' is not a column of '{spec.subject_table}'", table=spec.table,
                                      hint=did_you_mean(column, subject_columns))
                for index, column in enumerate(spec.subject_show):
                    if column not in subject_columns:
                        yield problem("backoffice.E077", declarations, f"{prefix}.subject.show[{index}]",
                                      f"'{column}' is not a column of '{spec.subject_table}'", table=spec.table,
                                      hint=did_you_mean(column, subject_columns))
        raw_actions = (_entries(declarations, reflection).get(spec.name) or {}).get("actions") or {}
        if not raw_actions:
            yield problem("backoffice.E072", declarations, f"{prefix}.actions", "the queue declares no actions",
                          table=spec.table)
        for action_name, raw in raw_actions.items():
            where = f"{prefix}.actions.{action_name}"
            if not isinstance(raw, dict):
                yield problem("backoffice.E072", declarations, where, "an action must be a table", table=spec.table)
                continue
            yield from _check_action(declarations, where, spec.table, raw)
        if spec.url in urls:
            yield problem("backoffice.E078", declarations, f"{prefix}.url",
                          f"'{spec.url}' is already the URL of queue '{urls[spec.url]}'", table=spec.table)
        urls[spec.url] = spec.name


def _check_action(declarations: Declarations, where: str, table: str, raw: dict) -> Iterable:
    for key, value in raw.items():
        kind = _ACTION_KEYS.get(key)
        if kind is None:
            yield problem("backoffice.E073", declarations, f"{where}.{key}", f"unknown action option '{key}'",
                          table=table, hint=did_you_mean(key, _ACTION_KEYS))
        elif (kind == "str" and not isinstance(value, str)) or (kind == "bool" and not isinstance(value, bool)) or (
                kind == "str-list" and not (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            yield problem("backoffice.E073", declarations, f"{where}.{key}",
                          f"expected {kind}, got {type(value).__name__} {value!r}", table=table)
    for key in ("from", "to"):
        if key not in raw:
            yield problem("backoffice.E073", declarations, f"{where}.{key}", f"the action needs '{key}'", table=table)
    if isinstance(raw.get("effect"), str):
        try:
            resolve_effect(raw["effect"])
        except (ImportError, AttributeError, ValueError) as exc:
            yield problem("backoffice.E074", declarations, f"{where}.effect",
                          f"cannot import '{raw['effect']}': {exc}", table=table)
    if "role" in raw and raw["role"] not in ROLES:
        yield problem("backoffice.E075", declarations, f"{where}.role", f"unknown role '{raw['role']}'",
                      table=table, hint=did_you_mean(str(raw["role"]), ROLES))
    if "approval" in raw and raw["approval"] not in ROLES:
        yield problem("backoffice.E080", declarations, f"{where}.approval", f"unknown role '{raw['approval']}'",
                      table=table, hint=did_you_mean(str(raw["approval"]), ROLES))
    if "reverse" in raw and raw["reverse"] not in REVERSE_CHOICES:
        yield problem("backoffice.E079", declarations, f"{where}.reverse",
                      f"'{raw['reverse']}' is not one of {', '.join(REVERSE_CHOICES)}", table=table,
                      hint=did_you_mean(str(raw["reverse"]), REVERSE_CHOICES))
    if "reason" in raw and raw["reason"] not in ("required", "optional", "none"):
        yield problem("backoffice.E076", declarations, f"{where}.reason",
                      f"'{raw['reason']}' is not one of required, optional, none", table=table,
                      hint=did_you_mean(str(raw["reason"]), ("required", "optional", "none")))


def register_rules(rules: Rules) -> None:
    """The ``[queues.*]`` section: its options, problem ids E070-E078 and the queue checks."""
    rules.declare_ids(QUEUE_PROBLEM_IDS)
    rules.declare_options("queues", *QUEUE_OPTIONS)
    rules.add_check(_check_queues)
