"""Hostile input, refused early and clearly; exports a spreadsheet will not execute.

* :class:`ExportSafetyMixin` (a base of every generated screen): Flask-Admin's generic
  CSV export writes cell values as they are, so a title ``=HYPERLINK(...)`` became a
  live formula in the operator's spreadsheet. Text cells starting with ``= + - @``
  (or a tab / carriage return) get a leading apostrophe, as the audit and
  catalog-health exports already do; plain numbers such as ``-3`` stay numbers.
* :class:`FormRefusalMixin`: a create or edit POST that is refused (validation
  error, stale version, duplicate submission) re-renders the form with 422 instead
  of 200, so clients and proxies see the refusal.
* :func:`init_app`: a query string over :data:`MAX_QUERY_STRING` bytes is refused
  with 414, a NUL character in any parameter with 400 (PostgreSQL cannot store or
  compare one: the driver raised, and the operator saw a 500; a row identity may
  still carry the NUL that marks a NULL key column), and a value the database
  cannot hold (a 40-digit id on SQLite, a PostgreSQL DataError) with 400.
"""
from __future__ import annotations

import re

from flask import Flask, request
from flask_admin import expose

from flask_admin.tools import iterdecode
from sqlalchemy.exc import DataError

from backoffice.web.errors import error_response

from views.columns import NULL_MARK

__all__ = ["ExportSafetyMixin", "FormRefusalMixin", "init_app", "neutralise_cell", "MAX_QUERY_STRING"]

#: Longest query string accepted (a search of a few thousand characters is plenty).
MAX_QUERY_STRING = 8 * 1024
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$")


def neutralise_cell(value):
    """``value`` unchanged unless it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


class ExportSafetyMixin:
    """Mixin for :class:`~views.base.ReflectedModelView`: formula-safe export cells."""

    def get_export_value(self, model, name):
        return neutralise_cell(super().get_export_value(model, name))


class FormRefusalMixin:
    """Mixin for :class:`~views.base.ReflectedModelView`: a refused form POST is a 422."""

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        return _refused_is_422(super().create_view())

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        return _refused_is_422(super().edit_view())


def _refused_is_422(response):
    # Flask-Admin answers a refused POST by rendering the form again (a str); a
    # success is a redirect (a Response object). Only the former changes.
    if request.method == "POST" and isinstance(response, str):
        return response, 422
    return response


def _has_nul(values) -> bool:
    return any("\x00" in key or any(_nul_in(key, v) for v in items) for key, items in values.lists())


def _nul_in(key: str, value: str) -> bool:
    if "\x00" not in value:
        return False
    if key == "id":  # a row identity: a part that is exactly NUL marks a NULL key column
        try:
            return any("\x00" in part and part != NULL_MARK for part in iterdecode(value))
        except Exception:
            return True
    return True


def init_app(app: Flask) -> None:
    """Refuse oversized query strings and NUL characters before any view runs."""

    @app.errorhandler(413)
    def _too_large(exc):
        limit = (app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
        return error_response(413, "Request too large",
                              f"The submitted data is larger than {limit} MB, the most the console accepts. "
                              "Nothing was changed; shorten the values and try again.")

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def _value_out_of_range(exc):
        # A value the database or its driver cannot hold (a 40-digit id on SQLite raises
        # a bare OverflowError; PostgreSQL answers DataError): the input's fault, not ours.
        return error_response(400, "Value out of range",
                              "A value in the request does not fit its column (too large, or not of the "
                              "right type). Correct it and try again; nothing was changed.")

    @app.before_request
    def _refuse_hostile_input():
        if len(request.query_string) > MAX_QUERY_STRING:
            return error_response(414, "Request too long",
                                  f"The address carries more than {MAX_QUERY_STRING // 1024} kB of parameters. "
                                  "Shorten the search or remove some filters.")
        form = request.form if request.method == "POST" and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data") else None
        if _has_nul(request.args) or (form is not None and _has_nul(form)):
            return error_response(400, "Invalid character",
                                  "A parameter contains a NUL character, which the database cannot store. "
                                  "Remove it and try again; nothing was changed.")
        return None
