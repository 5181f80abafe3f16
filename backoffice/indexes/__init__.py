"""Index advice: the indexes the console's screens and health checks would use on
large tables, which of them are missing, what their absence costs, and (on explicit
request only) their creation. The console never creates an index on its own.

* :mod:`.advice`: the needs, read from the declarative file and the health checks,
  and whether an existing index serves each;
* :mod:`.work`: measuring an operation, creating an index with progress;
* :mod:`.cli`: ``backoffice indexes`` and ``backoffice indexes --apply``.
"""
from __future__ import annotations

from backoffice.indexes.advice import MIN_ROWS, Need, TableAdvice, collect_needs, missing
from backoffice.indexes.cli import advice_for, indexes_command

__all__ = ["MIN_ROWS", "Need", "TableAdvice", "collect_needs", "missing", "advice_for", "register_commands"]


def register_commands(group) -> None:
    """The index-advice subsystem's commands."""
    group.add_command(indexes_command)
