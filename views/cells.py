"""One rule for every CSV the console writes: no cell a spreadsheet would run as a formula.

A spreadsheet reads a cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return, which some strip first) as a formula: a title ``=HYPERLINK(...)``
exported as it is becomes a live link in the operator's spreadsheet (CSV injection).
Such text gets a leading apostrophe, which spreadsheets show as nothing. Text that is a
plain number (``-3``, ``+1.5e3``) is left alone: it is a number, not a formula; numbers
themselves stay numbers. The generic screens' export, the audit export and the
catalog-health and declared pages' exports all use :func:`formula_safe`.
"""
from __future__ import annotations

import datetime as dt
import json
import re

__all__ = ["formula_safe", "csv_text", "FORMULA_PREFIXES", "PLAIN_NUMBER"]

#: First characters that make a spreadsheet evaluate a cell.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: ASCII digits only: "-٣" is no number to a spreadsheet, and the SQL rendering (views/export_copy.py) agrees.
PLAIN_NUMBER = r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)


def formula_safe(value):
    """``value`` unchanged unless it is text a spreadsheet would run as a formula; then
    the same text behind an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_text(value) -> str:
    """A cell of the audit export as text: empty for NULL, ISO 8601 for timestamps, JSON
    for structured values (the recorded changes), any other value as its text; always
    :func:`formula_safe`."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        text = value.isoformat()
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    else:
        text = str(value)
    return formula_safe(text)
