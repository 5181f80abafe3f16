"""The ``[queues.*]`` section of the declarative file: its options, its problem ids and the
checks of every queue (declared, or the built-in TMDB queue as fitted to the schema)
against the reflected schema, at start-up and in `backoffice check`."""
from __future__ import annotations

import logging
from collections.abc import Iterable

from backoffice.core.access import ROLES
from backoffice.core.declarations import Declarations, Option, Rules, did_you_mean, problem
from queues.fitting import fit_default_queue
from queues.spec import DEFAULT_QUEUES, REVERSE_CHOICES, declared_entries, queue_specs, resolve_effect

__all__ = ["register_rules", "QUEUE_PROBLEM_IDS", "QUEUE_OPTIONS"]

log = logging.getLogger(__name__)

QUEUE_PROBLEM_IDS = {
    "backoffice.E070": "a queue names a table that was not reflected",
    "backoffice.E071": "a queue option names a column that the queue's table does not have",
    "backoffice.E072": "a queue declares no actions, or an action is not a table",
    "backoffice.E073": "an action option is unknown or has the wrong type",
    "backoffice.E074": "an action's effect cannot be imported",
    "backoffice.E075": "an action names an unknown role",
    "backoffice.E076": "an action's reason must be required, optional or none",
    "backoffice.E077": "a queue's subject table or column is unknown",
    "backoffice.E078": "a queue's URL collides with another queue's",
    "backoffice.E079": "an action's reverse must be restore or none (an action with an effect must say which)",
    "backoffice.E080": "an action's approval names an unknown role",
    "backoffice.E081": "an action's approval_hours is not between 1 and 720",
}
#: Longest wait a held decision may declare (as a screen's approval_hours).
MAX_APPROVAL_HOURS = 24 * 30

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
                "exclusive": "bool", "reverse": "str", "approval": "str", "approval_hours": "int"}


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
        declared = declared_entries(declarations, reflection).get(spec.name) or {}
        for label, pair in (declared.get("compare") or {}).items():
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
        raw_actions = declared.get("actions") or {}
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
                kind == "int" and (isinstance(value, bool) or not isinstance(value, int))) or (
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
    hours = raw.get("approval_hours")
    if isinstance(hours, int) and not isinstance(hours, bool) and not 1 <= hours <= MAX_APPROVAL_HOURS:
        yield problem("backoffice.E081", declarations, f"{where}.approval_hours",
                      f"{hours} is not between 1 and {MAX_APPROVAL_HOURS}", table=table)
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
