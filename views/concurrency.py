"""Forms that change data once: a create form submitted twice creates one row, and an
edit based on a stale version of the row is refused instead of overwriting.

* Create forms carry a one-time ``form_nonce`` (random, rendered on GET). The save
  records it in ``backoffice_submissions`` in the SAME transaction as the new row:
  a second submission of the same page (double click, browser resend, a retry
  after a timeout) finds it, or on a race hits its primary key, and is refused
  with "already submitted"; the first one's row stands alone.
* Edit forms carry ``row_version``, a hash of the row's column values as they were
  loaded. The save re-reads the row under a lock (``SELECT ... FOR UPDATE`` on
  PostgreSQL; SQLite serialises writers) and refuses when another operator saved
  in between: optimistic concurrency, with a message saying what to do.

Forms posted without these fields (scripts, inline list edits) are saved as before.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets

from flask import flash, request
from sqlalchemy import inspect, insert, select
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from wtforms import HiddenField
from wtforms.validators import ValidationError

from models.own import submissions

__all__ = ["ConcurrencyMixin", "row_version", "NONCE_FIELD", "VERSION_FIELD", "ALREADY_SUBMITTED", "STALE_EDIT"]

NONCE_FIELD = "form_nonce"
VERSION_FIELD = "row_version"
ALREADY_SUBMITTED = ("This form was already submitted and its record was created then; nothing was created "
                     "again. Open the list to find it, or open a new form to create another record.")
STALE_EDIT = ("Someone else saved this record after you opened it, so your changes were not saved (they "
              "would have overwritten theirs). Reload the record to see its current values, then make your "
              "change again.")
GONE = "This record was deleted by someone else after you opened it; your changes were not saved."


class _HiddenOnce(HiddenField):
    """A hidden input that travels with the form and is never written to the row."""

    def populate_obj(self, obj, name):
        pass


class AlreadySubmitted(ValidationError):
    """A create form's nonce was used before (Flask-Admin flashes a ValidationError as is)."""


def row_version(model) -> str:
    """A short hash of every column value of ``model`` (what the operator saw)."""
    mapper = inspect(model).mapper
    values = [[attr.key, _text(getattr(model, attr.key, None))] for attr in mapper.column_attrs]
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:32]


def _text(value):
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return hashlib.sha256(bytes(value)).hexdigest()
    return None if value is None else str(value)


def _with_field(form_class, name: str):
    return type(form_class.__name__, (form_class,), {name: _HiddenOnce()})


class ConcurrencyMixin:
    """Mixin for :class:`~views.base.ReflectedModelView`: one-time create, versioned edit."""

    def get_create_form(self):
        return _with_field(super().get_create_form(), NONCE_FIELD)

    def get_edit_form(self):
        return _with_field(super().get_edit_form(), VERSION_FIELD)

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if request.method == "GET" and hasattr(form, NONCE_FIELD):
            getattr(form, NONCE_FIELD).data = secrets.token_urlsafe(24)
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        field = getattr(form, VERSION_FIELD, None)
        if field is not None and obj is not None and request.method == "GET":
            field.data = row_version(obj)
        return form

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        nonce = (getattr(getattr(form, NONCE_FIELD, None), "data", None) or "").strip()[:64]
        if is_created and nonce:
            self._record_submission(nonce)

    def _record_submission(self, nonce: str) -> None:
        session = getattr(self.session, "session", self.session)
        if session.execute(select(submissions.c.nonce).where(submissions.c.nonce == nonce)).first():
            raise AlreadySubmitted(ALREADY_SUBMITTED)
        from backoffice.core.access import current_operator

        try:
            session.execute(insert(submissions).values(
                nonce=nonce, submitted_at=dt.datetime.now(dt.timezone.utc),
                actor=current_operator().username[:200], screen=str(getattr(self, "screen", ""))[:300]))
        except IntegrityError:  # the same nonce committed by a concurrent request just now
            raise AlreadySubmitted(ALREADY_SUBMITTED) from None

    def update_model(self, form, model):
        expected = (getattr(getattr(form, VERSION_FIELD, None), "data", None) or "").strip()
        if expected:
            session = getattr(self.session, "session", self.session)
            try:
                # lock the row until this transaction ends, and compare what it holds now
                session.refresh(model, with_for_update=True)
            except InvalidRequestError:
                session.rollback()
                flash(GONE, "error")
                return False
            if row_version(model) != expected:
                session.rollback()
                flash(STALE_EDIT, "error")
                return False
        return super().update_model(form, model)
