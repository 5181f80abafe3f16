"""Values read from the database that the console must carry without breaking on them.

A real database holds values no form or page was designed for: JSON nested thousands
of levels deep (Python's decoder gives up with a RecursionError, and a page built on
it answers 500), and SQLite text that is not UTF-8 (the driver refuses the whole row).
Both are read here into a marker type that keeps the original bytes or text, so the
row still lists, opens and exports; the pages show the marker with its size and the
forms leave such a value untouched.
"""
from __future__ import annotations

import json
import re

__all__ = ["JSON_DEPTH_LIMIT", "DeepJSON", "UndecodableText", "json_depth", "safe_json_loads", "sqlite_text", "opaque"]

#: JSON nested deeper than this is not decoded (shown as its size, never edited): the
#: pages and forms walk a decoded value recursively, and Python's recursion stops near 1,000.
JSON_DEPTH_LIMIT = 200

_STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def json_depth(text: str) -> int:
    """How deep ``text``'s arrays and objects nest (brackets inside strings do not count)."""
    depth = deepest = 0
    for char in _STRING.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class DeepJSON(str):
    """A JSON document too deeply nested to decode safely: its text, unchanged."""

    @property
    def size(self) -> int:
        return len(self.encode("utf-8"))


class UndecodableText(bytes):
    """Text stored in a SQLite database that is not valid UTF-8: its bytes, unchanged."""

    @property
    def size(self) -> int:
        return len(self)


def safe_json_loads(text: str | bytes):
    """``json.loads`` that never raises RecursionError: too deep -> :class:`DeepJSON`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if ("[" in text or "{" in text) and json_depth(text) > JSON_DEPTH_LIMIT:
        return DeepJSON(text)
    try:
        return json.loads(text)
    except RecursionError:
        return DeepJSON(text)


def sqlite_text(data: bytes):
    """SQLite's ``text_factory``: UTF-8 text as ``str``, anything else as :class:`UndecodableText`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return UndecodableText(data)


def opaque(value) -> bool:
    """A value no page shows as text and no form edits: bytes (a blob, even in a column
    declared as text), text that is not UTF-8, JSON nested too deep to decode."""
    return isinstance(value, (bytes, bytearray, memoryview, DeepJSON))
