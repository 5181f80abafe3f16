"""Catalog-health checks as declarations: the four kinds, the movie defaults, validation.

A check is data (:class:`HealthCheck`), never code. The movie checks below are the
*default declarations*, written exactly as a maintainer would write them in the
declarative file's ``[health.<name>]`` entries. Rules for the file:

- a new name adds a check (on any reflected table or view);
- a default's name layers the entry over that default (``days = 90`` is enough to
  change ``stale_tmdb``; a different ``kind`` replaces it entirely);
- ``enabled = false`` switches a check off, default or not.

A default whose column is named differently uses an obvious variant of the name
(:data:`COLUMN_VARIANTS`: ``role`` for ``credit_type``) and says which column it used;
a default that still does not fit is switched off and listed as not applicable, with
the reason and the declaration that would enable it (the console also runs on schemas
that are not a movie catalog). A maintainer's own entries are validated strictly,
every problem reported at start-up (see :mod:`backoffice.catalog.validation`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from backoffice.core.declarations import Option

__all__ = ["HEALTH_OPTIONS", "HEALTH_PROBLEM_IDS", "HealthCheck", "KINDS", "DEFAULT_CHECKS", "KEY_FUNCTIONS", "parse_key",
           "COLUMN_VARIANTS"]

#: kind -> (required options, options that apply, human group name)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "missing": (("fields",), ("fields", "match", "blank"), "Missing metadata"),
    "duplicates": (("key",), ("key",), "Duplicate identities"),
    "stale": (("column",), ("column", "days"), "Stale data"),
    "coverage": (("related",), ("related", "via", "where"), "Coverage"),
}
_COMMON = ("kind", "table", "label", "only_with", "timeout_ms", "enabled")
#: Functions a duplicate key may apply to a column (all of them keep NULL as NULL).
KEY_FUNCTIONS = ("lower", "upper", "trim", "year")

HEALTH_OPTIONS = (
    Option("kind", "str", "missing | duplicates | stale | coverage", example='"coverage"'),
    Option("table", "str", "The table or view checked (a reflected screen name)", default="movies"),
    Option("label", "str", "Title shown on the page and in the CLI", default="the check's name"),
    Option("fields", "str-list", "missing: columns that should be filled", example='["overview"]'),
    Option("match", "str", "missing: 'any' (a row lacks at least one field) or 'all'", default="any"),
    Option("blank", "bool", "missing: empty text ('') counts as missing", default=True),
    Option("key", "str-list", "duplicates: the identity; columns or lower(...), upper(...), trim(...), year(...)",
           example='["lower(trim(title))", "year(release_date)"]'),
    Option("column", "str", "stale: the timestamp of the last refresh (NULL counts as stale)"),
    Option("days", "int", "stale: age in days after which a row is stale", default="CATALOG_HEALTH_STALE_DAYS"),
    Option("related", "str", "coverage: the table whose rows each checked row should have"),
    Option("via", "str", "coverage: the related table's column pointing at this table", default="its foreign key"),
    Option("where", "dict", "coverage: conditions on the related rows, column = value or [values]",
           example='{ job = "Director" }'),
    Option("only_with", "str-list", "Check only rows where these columns are set", example='["tmdb_id"]'),
    Option("timeout_ms", "int", "Statement timeout of this check (PostgreSQL; SQLite interrupts)",
           default="STATEMENT_TIMEOUT_MS"),
    Option("enabled", "bool", "false switches the check off (defaults included)", default=True),
)

HEALTH_PROBLEM_IDS = {
    "backoffice.E050": "a health check lacks an option its kind requires",
    "backoffice.E051": "unknown health check kind",
    "backoffice.E052": "a health check option does not apply to its kind",
    "backoffice.E053": "a health check names an unknown table or view",
    "backoffice.E054": "a health check names an unknown column",
    "backoffice.E055": "a duplicate key expression cannot be read",
    "backoffice.E056": "coverage: cannot tell which column of the related table points at the checked table",
    "backoffice.E057": "a health check option has an invalid value",
}

_MOVIE_FIELDS = ["overview", "poster_path", "release_date", "runtime_minutes"]
#: The movie-catalog checks, declared exactly like file entries. Names follow the
#: demo generator's DefectCounts so the exactness tests read them one to one.
DEFAULT_CHECKS: dict[str, dict[str, Any]] = {
    "missing_overview": {"kind": "missing", "fields": ["overview"], "label": "Missing overview"},
    "missing_poster": {"kind": "missing", "fields": ["poster_path"], "label": "Missing poster"},
    "missing_release_date": {"kind": "missing", "fields": ["release_date"], "label": "Missing release date"},
    "missing_runtime": {"kind": "missing", "fields": ["runtime_minutes"], "label": "Missing runtime"},
    "missing_any": {"kind": "missing", "fields": _MOVIE_FIELDS, "label": "Missing any of these"},
    "duplicate_imdb_id": {"kind": "duplicates", "key": ["imdb_id"], "label": "Movies sharing an IMDb id"},
    "duplicate_title_year": {"kind": "duplicates", "key": ["lower(trim(title))", "year(release_date)"],
                             "label": "Movies sharing a title and release year"},
    "duplicate_tmdb_id": {"kind": "duplicates", "key": ["tmdb_id"], "label": "Movies sharing a TMDB id"},
    "stale_tmdb": {"kind": "stale", "column": "tmdb_synced_at", "only_with": ["tmdb_id"],
                   "label": "TMDB data missing or stale"},
    "no_cast": {"kind": "coverage", "related": "movie_credits", "where": {"credit_type": "cast"},
                "label": "No cast credit"},
    "no_director": {"kind": "coverage", "related": "movie_credits", "where": {"job": "Director"},
                    "label": "No director"},
    "no_genre": {"kind": "coverage", "related": "movie_genres", "label": "No genre"},
    "no_keyword": {"kind": "coverage", "related": "movie_keywords", "label": "No keyword"},
}

#: Obvious variants of the default checks' column names, tried in order when the
#: catalog lacks the demo schema's name. Only defaults adapt; a file entry means what it says.
COLUMN_VARIANTS: dict[str, tuple[str, ...]] = {
    "overview": ("description", "synopsis", "plot", "summary"),
    "poster_path": ("poster", "poster_url", "poster_uri", "image_url"),
    "release_date": ("released", "released_on", "released_at"),
    "runtime_minutes": ("runtime", "runtime_min", "duration_minutes"),
    "imdb_id": ("imdb",),
    "tmdb_id": ("tmdb", "themoviedb_id"),
    "title": ("name",),
    "tmdb_synced_at": ("synced_at", "tmdb_updated_at", "last_synced_at", "tmdb_fetched_at"),
    "credit_type": ("role", "kind", "type"),
    "job": ("role", "department", "position"),
}


@dataclass(frozen=True)
class HealthCheck:
    """One resolved, validated check. ``table`` and ``related`` are screen names of
    the reflection; ``via`` is resolved to a column name when the check is built."""

    name: str
    kind: str
    table: str = "movies"
    label: str = ""
    fields: tuple[str, ...] = ()
    match: str = "any"
    blank: bool = True
    key: tuple[str, ...] = ()
    column: str | None = None
    days: int | None = None
    related: str | None = None
    via: str | None = None
    where: tuple[tuple[str, Any], ...] = ()
    only_with: tuple[str, ...] = ()
    timeout_ms: int | None = None
    default: bool = False
    #: How a default adapted to this schema, e.g. ("movie_credits.role for job",).
    adapted: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        return KINDS[self.kind][2]

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")


_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$")


def parse_key(text: str) -> tuple[tuple[str, ...], str]:
    """``"lower(trim(title))"`` -> (("trim", "lower"), "title"): functions innermost
    first, and the column. Raises ValueError with a readable reason."""
    functions: list[str] = []
    while match := _CALL.match(text):
        name = match.group(1).lower()
        if name not in KEY_FUNCTIONS:
            raise ValueError(f"unknown function '{match.group(1)}'")
        functions.insert(0, name)
        text = match.group(2)
    column = text.strip()
    if not re.fullmatch(r"[^\s()',]+", column):
        raise ValueError("expected a column name, optionally inside " + ", ".join(f"{f}(...)" for f in KEY_FUNCTIONS))
    return tuple(functions), column
