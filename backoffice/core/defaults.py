"""Built-in defaults that fit the schema, adapt to it, or step aside.

The console ships declarations nobody wrote in the file: the catalog-health checks
and the TMDB review queue, named after the demo schema. A real catalog rarely uses
the same column names. A default therefore never stops start-up: it adapts where the
difference is an obvious variant of a name (``score`` for ``match_score``) and says
which column it used, or it is switched off and listed as :class:`DefaultOff`, with
the reason and the declaration that would enable it. Declarations a maintainer wrote
are checked strictly, as always.
"""
from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DefaultOff", "variant_of", "guess_column", "toml_entry"]


@dataclass(frozen=True)
class DefaultOff:
    """A built-in default that does not fit this schema and is switched off."""

    section: str      # "health" or "queues"
    name: str
    reason: str
    declaration: str  # TOML that would enable it, with the columns guessed from the schema

    def __str__(self) -> str:
        return f"{self.section}.{self.name}: not applicable: {self.reason}"


def variant_of(wanted: str, columns: Iterable[str], variants: Mapping[str, tuple[str, ...]]) -> str | None:
    """``wanted`` when the table has it, else its first listed variant the table has, else None."""
    present = set(columns)
    if wanted in present:
        return wanted
    return next((v for v in variants.get(wanted, ()) if v in present), None)


def guess_column(wanted: str, columns: Iterable[str]) -> str | None:
    """The column whose name looks most like ``wanted`` (a guess for a declaration to review)."""
    found = difflib.get_close_matches(wanted, list(columns), n=1, cutoff=0.5)
    return found[0] if found else None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def toml_entry(section: str, name: str, spec: Mapping[str, Any]) -> str:
    """``[section.name]`` and one ``key = value`` line per option (tables inline)."""
    lines = [f"[{section}.{_toml_key(name)}]"]
    lines += [f"{_toml_key(key)} = {_toml_value(value)}" for key, value in spec.items()]
    return "\n".join(lines)
