"""Full-text search: the part of a generated screen that decides what the search box does.

A screen whose declarative entry names a ``tsvector`` column (``fulltext = "fulltext"``,
as Pagila's ``film.fulltext``) searches with it: the box's words become
``column @@ websearch_to_tsquery(config, words)``, which a GIN or GiST index on the
column answers without reading the table (``backoffice indexes`` proposes the GIN
index when none exists). ``websearch_to_tsquery`` accepts what operators type into a
search box ("quoted phrases", ``or``, ``-word``) and never fails on punctuation.

The text search configuration must be the one the column was built with (a trigger's
``'pg_catalog.english'`` stems "academy" to "academi"); ``fulltext_config`` names it,
and without it the database's ``default_text_search_config`` is used.

Full text replaces the contains-search of ``search`` on that screen (``backoffice check``
warns, W017, when both are declared). A column that cannot be used (not a ``tsvector``,
not PostgreSQL) is error E033 of ``backoffice check`` and stops start-up; should a screen
still get one (a custom class setting ``fulltext_column``), it falls back to its
contains-search and logs a warning once, so search keeps working.
"""
from __future__ import annotations

import logging
import re

from sqlalchemy import func

from backoffice.core.declarations import did_you_mean
from backoffice.core.internals import SearchHook, search_fields

from views.columns import category_of
from views.names import db_session

__all__ = ["FullTextPart", "fulltext_usable", "check_fulltext"]

log = logging.getLogger(__name__)


def fulltext_usable(column) -> bool:
    """Whether ``column`` can answer ``@@``: a reflected PostgreSQL ``tsvector``."""
    return column is not None and category_of(column) == "tsvector"


_CONFIG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def check_fulltext(checker) -> None:
    """``backoffice check`` of ``fulltext`` / ``fulltext_config`` (E033, W017) for one
    ``[views.*]`` entry; ``checker`` is views/checks.py's. A never_show'd column is fine:
    its words are the shown columns', and the vector itself is never displayed."""
    spec, columns = checker.spec, checker.columns
    name, config = spec.get("fulltext"), spec.get("fulltext_config")
    if isinstance(config, str) and not _CONFIG_NAME.fullmatch(config):
        checker.add("backoffice.E033", "fulltext_config", f"'{config}' is not a text search configuration name",
                    'write a name such as "english" or "pg_catalog.simple"')
    if not isinstance(name, str):
        return
    if name not in columns:
        checker.add("backoffice.E033", "fulltext", f"'{name}' is not a column of '{checker.screen}'",
                    did_you_mean(name, set(columns)))
        return
    if not fulltext_usable(columns[name]):
        checker.add("backoffice.E033", "fulltext", f"'{name}' is not a tsvector column "
                    f"({type(columns[name].type).__name__}); full-text search needs a PostgreSQL tsvector column",
                    "name a tsvector column, or use search = [...] for contains-search")
    elif isinstance(spec.get("search"), list) and spec["search"]:
        checker.add("backoffice.W017", "search", f"fulltext = \"{name}\" is declared: the search box uses it "
                    "and search has no effect", "remove search, or fulltext")


class FullTextPart(SearchHook):
    """Part of :class:`~views.base.ReflectedModelView`: owns ``init_search``,
    ``apply_search`` (Flask-Admin's search hook, through ``SearchHook``) and
    ``search_placeholder`` (see the module docstring). Needs ``self.entry``."""

    #: The tsvector column searched (the declarative file's ``fulltext``), or None.
    fulltext_column: str | None = None
    #: The text search configuration (the file's ``fulltext_config``); None = the database default.
    fulltext_config: str | None = None
    _fulltext_warned = False

    def fulltext(self):
        """The declared column when it can serve full-text search here, else None."""
        name = self.fulltext_column
        if not name:
            return None
        column = self.entry.table.c.get(name)
        if fulltext_usable(column) and db_session(self).get_bind().dialect.name == "postgresql":
            return column
        if not self._fulltext_warned:
            self._fulltext_warned = True  # once per screen and worker: the check reports it too
            log.warning("screen %s: fulltext column %r cannot be searched with full text here "
                        "(it must be a PostgreSQL tsvector); using contains-search", self.screen, name)
        return None

    def fulltext_condition(self, words: str):
        """``column @@ websearch_to_tsquery([config,] words)``, or None without a usable column."""
        column = self.fulltext()
        if column is None:
            return None
        query = (func.websearch_to_tsquery(self.fulltext_config, words) if self.fulltext_config
                 else func.websearch_to_tsquery(words))
        return column.op("@@")(query)

    # -- Flask-Admin hooks -------------------------------------------------------------------

    def init_search(self) -> bool:
        plain = super().init_search()
        # The box is offered when a tsvector column is declared even without `search`
        # (the column's type is known from the reflection; the dialect is checked per search).
        return plain or fulltext_usable(self.entry.table.c.get(self.fulltext_column or ""))

    def apply_search(self, query, count_query, joins, count_joins, search):
        words = search.strip()
        condition = self.fulltext_condition(words) if words else None
        if condition is None:
            if not search_fields(self):
                return query, count_query, joins, count_joins  # nothing else to search with
            return super().apply_search(query, count_query, joins, count_joins, search)
        query = query.filter(condition)
        if count_query is not None:
            count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    def search_placeholder(self):
        if self.fulltext_column and fulltext_usable(self.entry.table.c.get(self.fulltext_column)):
            return "Words (full text)"
        return super().search_placeholder()
