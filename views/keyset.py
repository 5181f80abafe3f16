"""Keyset ("seek") paging: the key of a row in the URL, and the WHERE that resumes after it.

An OFFSET makes the database walk every row before the page; a seek condition
on an indexed ordering jumps straight to it, so page 1,000 costs what page 1
costs. The ordering is a sort column (optional) followed by the primary key, which
makes every key unique and the walk free of duplicates and gaps.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Sequence

from sqlalchemy import Column, and_, false, or_

__all__ = ["PageKeyError", "SEEKABLE_TYPES", "seekable", "encode_key", "decode_key", "seek_condition"]

#: Python types whose values survive a trip through the URL unchanged.
SEEKABLE_TYPES = (bool, int, float, decimal.Decimal, str, dt.datetime, dt.date, dt.time, uuid.UUID)


class PageKeyError(ValueError):
    """A key from the URL that does not fit the ordering (edited, stale or forged)."""


def _python_type(column: Column) -> type | None:
    try:
        return column.type.python_type
    except (NotImplementedError, AttributeError):
        return None


def seekable(column: Column) -> bool:
    """True when the column's values can be written into and read back from a URL."""
    kind = _python_type(column)
    return kind is not None and issubclass(kind, SEEKABLE_TYPES)


def _encode(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def encode_key(values: Sequence) -> str:
    """The URL form of a key: ``49950`` for a lone integer, else a compact JSON list."""
    if len(values) == 1 and isinstance(values[0], int) and not isinstance(values[0], bool):
        return str(values[0])
    return json.dumps([_encode(v) for v in values], separators=(",", ":"), ensure_ascii=False)


def _decode(text, column: Column):
    if text is None:
        if not column.nullable:
            raise PageKeyError(f"{column.name} cannot be empty")
        return None
    kind = _python_type(column)
    try:
        if kind is bool:
            if not isinstance(text, bool):
                raise ValueError
            return text
        if kind is int:
            if isinstance(text, bool) or not isinstance(text, int):
                raise ValueError
            return text
        if kind is dt.datetime:
            return dt.datetime.fromisoformat(text)
        if kind is dt.date:
            return dt.date.fromisoformat(text)
        if kind is dt.time:
            return dt.time.fromisoformat(text)
        if kind is str:
            if not isinstance(text, str):
                raise ValueError
            return text
        return kind(text)
    except (TypeError, ValueError, decimal.InvalidOperation):
        raise PageKeyError(f"{text!r} is not a value of {column.name}") from None


def decode_key(text: str, columns: Sequence[Column]) -> list:
    """Parse a key from the URL for ``columns``; raise :class:`PageKeyError` when it does not fit."""
    try:
        raw = json.loads(text)
    except (TypeError, ValueError):
        raise PageKeyError("the page key is not readable") from None
    if not isinstance(raw, list):
        raw = [raw]
    if len(raw) != len(columns):
        raise PageKeyError("the page key does not match the sort order")
    return [_decode(value, column) for value, column in zip(raw, columns)]


def seek_condition(columns: Sequence[Column], values: Sequence, ascending: bool, nulls_first: bool):
    """Rows strictly after ``values`` in the ordering ``columns`` (all ``ascending`` or all
    descending); ``nulls_first`` says where the database puts NULLs in that traversal.

    Row-value comparison ``(a, b) > (x, y)`` would be shorter, but it is false for
    NULLs and SQLite's planner uses indexes less well with it; the expanded form
    is portable and handles a nullable sort column.
    """
    if not columns:
        return false()
    column, value, rest = columns[0], values[0], (columns[1:], values[1:])
    after_rest = seek_condition(*rest, ascending, nulls_first)
    if value is None:
        same = and_(column.is_(None), after_rest)
        return or_(same, column.isnot(None)) if nulls_first else same
    beyond = column > value if ascending else column < value
    parts = [beyond, and_(column == value, after_rest)] if rest[0] else [beyond]
    if column.nullable and not nulls_first:
        parts.append(column.is_(None))
    return or_(*parts)
