"""Exceptions of the audit pipeline.

They subclass WTForms' ``ValidationError`` on purpose: Flask-Admin turns that
exception (and only that one) into a clean flash message on every write path,
instead of a generic "Failed to ..." text.
"""
from __future__ import annotations

from wtforms.validators import ValidationError

__all__ = ["AuditError", "AuditVeto", "AuditGuardError"]


class AuditError(ValidationError):
    """Base class: the write was refused and nothing was stored."""


class AuditVeto(AuditError):
    """Raised by a hook that refuses a change set; the message is shown to the operator."""


class AuditGuardError(AuditError):
    """A change to a reflected table tried to reach the database without its audit rows."""
