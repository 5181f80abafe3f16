"""The built-in TMDB queue against the reflected schema: as declared, adapted, or off.

The default queue is written with the demo schema's names. On a catalog whose review
table says ``score`` instead of ``match_score`` it uses ``score`` and says so; where an
optional column (who decided, when, the note, the score, a shown column) has no
counterpart it does without; where a column its actions cannot work without is
missing (the status, the movie, the candidate TMDB id), the queue is switched off and
listed as not applicable with the declaration that would enable it. A queue written in
the file is never adapted: it is checked strictly (E070-E078).
"""
from __future__ import annotations

from typing import Any

from backoffice.core.defaults import DefaultOff, guess_column, toml_entry, variant_of

__all__ = ["QUEUE_VARIANTS", "fit_default_queue"]

#: Obvious variants of the default queue's column names, tried in order.
QUEUE_VARIANTS: dict[str, tuple[str, ...]] = {
    "status": ("state",),
    "match_score": ("score", "confidence", "similarity"),
    "decision_note": ("note", "notes", "decision_reason", "comment"),
    "candidate_release_date": ("candidate_year", "candidate_release_year", "candidate_date"),
    "candidate_title": ("candidate_name",),
    "match_reason": ("reason",),
    "decided_by": ("reviewed_by", "decider"),
    "decided_at": ("reviewed_at",),
}

#: Names a state column often has: a guess for the declaration to review, never adapted to.
_STATUS_GUESSES = ("phase", "stage", "review_status", "decision", "outcome")

#: Column options and the demo schema's names they default to (see QueueSpec).
_OPTIONAL = {"decided_by": "decided_by", "decided_at": "decided_at", "note": "decision_note",
             "updated_at": "updated_at", "created_at": "created_at", "score": "match_score"}
#: What the default actions cannot work without: the apply effect reads and writes these.
_REQUIRED_ROW = ("status", "candidate_tmdb_id")
_REQUIRED_SUBJECT = ("id", "tmdb_id")


def _columns(reflection, screen: str | None) -> list[str]:
    entry = reflection.tables.get(screen) if screen else None
    return [c.name for c in entry.table.columns] if entry is not None else []


def fit_default_queue(name: str, entry: dict[str, Any], reflection) -> tuple[dict | None, tuple[str, ...],
                                                                          DefaultOff | None]:
    """(the entry adapted to the schema, what was adapted, None) or (None, (), why it is off)."""
    table = entry["table"]
    columns = _columns(reflection, table)
    subject = dict(entry.get("subject") or {})
    subject_columns = _columns(reflection, subject.get("table"))

    def off(reason: str) -> tuple[None, tuple[str, ...], DefaultOff]:
        guessed = {**entry, "table": table if columns else entry["table"]}
        guessed["status"] = variant_of("status", columns, {"status": QUEUE_VARIANTS["status"] + _STATUS_GUESSES}) \
            or guess_column("status", columns) or "status"
        if subject.get("column"):
            guessed["subject"] = {**subject, "column": guess_column(subject["column"], columns) or subject["column"]}
        guessed["show"] = [variant_of(c, columns, QUEUE_VARIANTS) or guess_column(c, columns) or c
                           for c in entry.get("show", ())]
        return None, (), DefaultOff("queues", name, reason, toml_entry("queues", name, guessed))

    if not columns:
        return off(f"no table '{table}'")
    if subject.get("table") and not subject_columns:
        return off(f"no table '{subject['table']}' for the queue's subject")
    used: list[str] = []
    adapted = dict(entry)
    status = variant_of("status", columns, QUEUE_VARIANTS)
    if status is None:
        return off(f"'{table}' has no status column")
    if status != "status":
        adapted["status"] = status
        used.append(f"{table}.{status} for status")
    for column in _REQUIRED_ROW[1:] + ((subject["column"],) if subject.get("column") else ()):
        if column not in columns:
            return off(f"'{table}' has no column '{column}', which the queue's actions need")
    for column in _REQUIRED_SUBJECT:
        if subject.get("table") and column not in subject_columns:
            return off(f"'{subject['table']}' has no column '{column}', which the apply action writes")
    for option, default in _OPTIONAL.items():
        found = variant_of(default, columns, QUEUE_VARIANTS)
        if found != default:
            adapted[option] = found or ""
            used.append(f"{table}.{found} for {default}" if found else f"no {default} column: not recorded")
    show = []
    for column in entry.get("show", ()):
        found = variant_of(column, columns, QUEUE_VARIANTS)
        if found is None:
            used.append(f"{column} not shown (no such column)")
        else:
            show.append(found)
            if found != column:
                used.append(f"{table}.{found} shown for {column}")
    adapted["show"] = show
    adapted["links"] = {c: url for c, url in (entry.get("links") or {}).items() if c in columns}
    compare = {}
    for label, (ours, theirs) in (entry.get("compare") or {}).items():
        found = variant_of(theirs, columns, QUEUE_VARIANTS)
        if found is None or ours not in subject_columns:
            used.append(f"{label} not compared (no such column)")
        else:
            compare[label] = [ours, found]
    adapted["compare"] = compare
    if subject.get("show"):
        adapted["subject"] = {**subject, "show": [c for c in subject["show"] if c in subject_columns]}
    return adapted, tuple(used), None
