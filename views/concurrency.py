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
Helpers only: the forms part (``views/forms.py``) adds and fills the fields, the writes
part (``views/writes.py``) checks them when it saves.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets

from sqlalchemy import inspect, insert, select
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from wtforms import HiddenField
from wtforms.validators import ValidationError

from models.own import submissions

__all__ = ["row_version", "with_field", "new_nonce", "submitted_value", "record_submission", "stale_edit",
           "AlreadySubmitted", "NONCE_FIELD", "VERSION_FIELD", "ALREADY_SUBMITTED", "STALE_EDIT", "GONE"]

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


def with_field(form_class, name: str):
    """``form_class`` plus a hidden input ``name`` that is never written to the row."""
    return type(form_class.__name__, (form_class,), {name: _HiddenOnce()})


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def submitted_value(form, name: str, most: int | None = None) -> str:
    """The stripped text of hidden input ``name`` (empty when the form has none)."""
    text = (getattr(getattr(form, name, None), "data", None) or "").strip()
    return text[:most] if most else text


def record_submission(session, nonce: str, actor: str, screen: str) -> None:
    """Record a create form's nonce in the save's transaction; raise :class:`AlreadySubmitted`
    when it was recorded before (or by a concurrent request just now)."""
    if session.execute(select(submissions.c.nonce).where(submissions.c.nonce == nonce)).first():
        raise AlreadySubmitted(ALREADY_SUBMITTED)
    try:
        session.execute(insert(submissions).values(
            nonce=nonce, submitted_at=dt.datetime.now(dt.timezone.utc), actor=actor[:200], screen=screen[:300]))
    except IntegrityError:  # the same nonce committed by a concurrent request just now
        raise AlreadySubmitted(ALREADY_SUBMITTED) from None


def stale_edit(session, model, expected: str) -> str | None:
    """Lock ``model``'s row until the transaction ends and compare it with the version the
    form was based on: the reason to refuse the save (the transaction is rolled back
    then), or None when the row is as the operator saw it."""
    try:
        session.refresh(model, with_for_update=True)
    except InvalidRequestError:
        session.rollback()
        return GONE
    if row_version(model) != expected:
        session.rollback()
        return STALE_EDIT
    return None
