"""What the review queue shows of one proposal: our row and the candidate side by side.

One line per declared pair (the queue's ``compare``), the difference named when there is
one (dates say how far apart they are), and the score as a coloured badge. Pure functions
over values already loaded; the queue view (``views/review_queue.py``) renders them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["Compared", "compare_pairs", "date_gap", "score_badge"]


@dataclass(frozen=True)
class Compared:
    """One compared field: our value, the candidate's, and how they differ ("" = the same)."""

    label: str
    ours: Any
    theirs: Any
    difference: str


def _as_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def date_gap(ours: dt.date, theirs: dt.date) -> str:
    """'45 years apart', '3 months apart', '12 days apart' (whole units, the largest that fits)."""
    days = abs((theirs - ours).days)
    if days >= 365:
        years = round(days / 365.25)
        return f"{years} year{'s' if years != 1 else ''} apart"
    if days >= 31:
        months = days // 30
        return f"{months} month{'s' if months != 1 else ''} apart"
    return f"{days} day{'s' if days != 1 else ''} apart"


def _difference(ours, theirs, identifier: bool = False) -> str:
    if ours is None and theirs is None:
        return ""
    if ours is None:
        return "ours is empty"
    if theirs is None:
        return "the candidate's is empty"
    a, b = _as_date(ours), _as_date(theirs)
    if a is not None and b is not None:
        return "" if a == b else date_gap(a, b)
    if isinstance(ours, str) and isinstance(theirs, str):
        if ours == theirs:
            return ""
        if ours.casefold().strip() == theirs.casefold().strip():
            return "differs in case or spacing only"
        return "differs"
    if ours == theirs:
        return ""
    if identifier:  # how far apart two ids are says nothing
        return "differs"
    if isinstance(ours, int) and isinstance(theirs, int) and not isinstance(ours, bool):
        return f"off by {abs(theirs - ours):,}"
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and not isinstance(ours, bool):
        return f"off by {abs(theirs - ours):,.6g}"
    return "differs"


def compare_pairs(pairs: dict[str, tuple[str, str]], subject, row) -> list[Compared]:
    """The declared pairs for one proposal (``subject`` None: the row it is about is gone)."""
    out = []
    for label, (ours_column, theirs_column) in pairs.items():
        ours = getattr(subject, ours_column, None) if subject is not None else None
        theirs = getattr(row, theirs_column, None)
        identifier = ours_column == "id" or ours_column.endswith("_id")
        out.append(Compared(label, ours, theirs, _difference(ours, theirs, identifier)))
    return out


def score_badge(score) -> tuple[str, str]:
    """(text, Bootstrap colour) of a score between 0 and 1: green from 0.9, amber from 0.7."""
    if score is None:
        return ("no score", "secondary")
    value = float(score)
    colour = "success" if value >= 0.9 else "warning" if value >= 0.7 else "danger"
    return (f"{value:.2f}", colour)
