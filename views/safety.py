"""Hostile input, refused early and clearly, before any screen runs.

(Formula-safe export cells are ``views/cells.py``'s; a refused form's 422 is the forms
part's, ``views/forms.py``.)

* :func:`init_app`: a query string over :data:`MAX_QUERY_STRING` bytes is refused
  with 414, a NUL character in any parameter with 400 (PostgreSQL cannot store or
  compare one: the driver raised, and the operator saw a 500; a row identity may
  still carry the NUL that marks a NULL key column), and a value the database
  cannot hold (a 40-digit id on SQLite, a PostgreSQL DataError) with 400.
"""
from __future__ import annotations

from flask import Flask, request
from flask_admin.tools import iterdecode
from sqlalchemy.exc import DataError

from backoffice.web.errors import error_response

from views.names import NULL_MARK

__all__ = ["init_app", "MAX_QUERY_STRING"]

#: Longest query string accepted (a search of a few thousand characters is plenty).
MAX_QUERY_STRING = 8 * 1024


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
