"""A row's identity in a URL (``?id=...``) and back, whatever the types of its key.

Flask-Admin writes ``str(value)`` for each key column and joins them with commas.
That loses what a real database keeps in keys: bytes (``bytea``, SQLite BLOB), the
empty string (``?id=`` reads as "no id"), NULL in the stand-in key of a view, and the
storage class of an untyped SQLite column (the integer 1, the text '1' and the blob
x'01' are three different keys). Here each part is the value's text unless it needs a
mark, and the mark says how to read it back:

=========  =================================  =====================================
part       meaning                            example
=========  =================================  =====================================
``\\x00``   NULL                               (a view's row with a NULL column)
``\\x01``   the empty string
``\\x02``   bytes, as hexadecimal              ``\\x0200ff``
``\\x03i``  an integer (untyped column)        ``\\x03i1``
``\\x03f``  a real (untyped column)            ``\\x03f2.5``
``\\x03s``  text (untyped column, or text      ``\\x03s1``
           that starts with a mark)
=========  =================================  =====================================

Keys of plain integers and text look as they always did (``?id=2001,rt``).
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, time
from decimal import Decimal

from flask_admin.tools import iterdecode, iterencode
from sqlalchemy import cast, func, type_coerce
from sqlalchemy import types as sqltypes

from models.reflection import ReflectedTable

from views.names import NULL_MARK

__all__ = ["NULL_MARK", "encode_identity", "encode_values", "decode_identity", "find_row", "untyped"]

_EMPTY = "\x01"
_BYTES = "\x02"
_TYPED = "\x03"
_MARKS = (NULL_MARK, _EMPTY, _BYTES, _TYPED)


def untyped(column) -> bool:
    """A SQLite column declared without a type: its values keep their own storage class."""
    return isinstance(column.type, sqltypes.NullType)


def _part(value, column) -> str:
    if value is None:
        return NULL_MARK
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _BYTES + bytes(value).hex()
    if untyped(column) and isinstance(value, bool | int):
        return _TYPED + "i" + str(int(value))
    if untyped(column) and isinstance(value, float):
        return _TYPED + "f" + repr(value)
    if isinstance(value, str) and (untyped(column) or value.startswith(_MARKS)):
        return _TYPED + "s" + value
    if isinstance(value, str) and value == "":
        return _EMPTY
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def encode_identity(entry: ReflectedTable, model) -> str:
    """The ``id`` URL argument of ``model``, a row of ``entry``."""
    columns = _key_columns(entry)
    if len(columns) == 1:  # the common key, asked for every row of every list page
        value = getattr(model, columns[0].key)
        if type(value) is int and not untyped(columns[0]):
            return str(value)  # what _part and iterencode give: digits need no mark or escape
    return iterencode(_part(getattr(model, column.key), column) for column in columns)


def _key_columns(entry: ReflectedTable) -> list:
    kept = entry.__dict__.get("_key_columns")
    if kept is None or kept[0] is not entry.table:
        kept = entry.__dict__["_key_columns"] = (entry.table, [entry.table.c[key] for key in entry.primary_key_attributes])
    return kept[1]


def encode_values(entry: ReflectedTable, values) -> str:
    """The ``id`` URL argument of the row of ``entry`` whose key values are ``values``."""
    columns = _key_columns(entry)
    return iterencode(_part(value, column) for value, column in zip(values, columns))


def _value(text: str, column):
    if text == NULL_MARK:
        return None
    if text == _EMPTY:
        return ""
    if text.startswith(_BYTES):
        return bytes.fromhex(text[1:])
    if text.startswith(_TYPED):
        kind, rest = text[1:2], text[2:]
        return int(rest) if kind == "i" else float(rest) if kind == "f" else rest
    return _coerce(text, column)


def _coerce(text: str, column):
    kind = column.type
    if isinstance(kind, sqltypes.Boolean):
        return text in ("True", "true", "1", "t")
    if isinstance(kind, sqltypes.Integer):
        return int(text)
    if isinstance(kind, sqltypes.Float) or type(kind).__name__ in ("REAL", "DOUBLE", "DOUBLE_PRECISION"):
        return float(text)
    if isinstance(kind, sqltypes.Numeric):
        return Decimal(text)
    if isinstance(kind, sqltypes.DateTime):
        return datetime.fromisoformat(text)
    if isinstance(kind, sqltypes.Date):
        return date.fromisoformat(text)
    if isinstance(kind, sqltypes.Time):
        return time.fromisoformat(text)
    if isinstance(kind, sqltypes.Uuid) or type(kind).__name__ == "UUID":
        return uuid.UUID(text)
    if _python_type(kind) is bytes:
        return bytes.fromhex(text)
    return text


def _python_type(kind):
    try:
        return kind.python_type
    except NotImplementedError:
        return None


def decode_identity(entry: ReflectedTable, text: str) -> list | None:
    """The key values ``text`` stands for, typed for comparison; None when it is not one."""
    parts = iterdecode(text)
    columns = [entry.table.c[key] for key in entry.primary_key_attributes]
    if len(parts) != len(columns):
        return None
    try:
        return [_value(part, column) for part, column in zip(parts, columns)]
    except (ValueError, TypeError, ArithmeticError):
        return None


def find_row(session, model, entry: ReflectedTable, text: str):
    """The row of ``model`` whose identity is ``text``, or None. Keys holding NULL (a view's
    stand-in key) or values SQL compares by storage class are matched column by column."""
    ident = decode_identity(entry, text)
    if ident is None:
        return None
    columns = [entry.table.c[key] for key in entry.primary_key_attributes]
    sqlite = session.get_bind().dialect.name == "sqlite"
    stored_as_text = sqlite and any(isinstance(v, (datetime, date, time, Decimal)) for v in ident)
    if None not in ident and not any(untyped(c) for c in columns) and not stored_as_text \
            and entry.locator != "all columns":
        return session.get(model, tuple(ident) if len(ident) > 1 else ident[0])
    conditions = [_equals(getattr(model, c.key), v, c, sqlite) for v, c in zip(ident, columns)]
    found = session.query(model).filter(*conditions).first()
    if found is not None or entry.locator != "all columns" or len(conditions) < 3:
        return found
    # One column of a view may differ between two reads (an aggregate without ORDER BY lists
    # its items in any order): the row is the one the other columns match, if only one does.
    for skipped in range(len(conditions)):
        rows = session.query(model).filter(*conditions[:skipped], *conditions[skipped + 1:]).limit(2).all()
        if len(rows) == 1:
            return rows[0]
    return None


def _equals(attribute, value, column, sqlite: bool):
    operators = getattr(column.type, "operator_classes", None)
    if getattr(operators, "name", "") == "UNSPECIFIED":  # e.g. money: compared as the database does
        attribute = type_coerce(attribute, sqltypes.NullType())
    if value is None:
        return attribute.is_(None)
    if sqlite and isinstance(value, (datetime, date, time)):
        # SQLite keeps dates as text in whatever form they were written ('... 00:00:00.000'):
        # compare the instants, not the texts.
        text = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
        return func.julianday(type_coerce(attribute, sqltypes.String)) == func.julianday(text)
    if sqlite and isinstance(value, Decimal):  # stored as REAL or INTEGER: compare numbers
        return cast(type_coerce(attribute, sqltypes.String), sqltypes.Float) == float(value)
    return attribute == value
