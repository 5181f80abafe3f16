"""Exceptions of the audit pipeline, and the sentence each database failure gets.

The exceptions subclass WTForms' ``ValidationError`` on purpose: Flask-Admin turns
that exception (and only that one) into a clean flash message on every write path,
instead of a generic "Failed to ..." text.
"""
from __future__ import annotations

from wtforms.validators import ValidationError

__all__ = ["AuditError", "AuditVeto", "AuditGuardError", "describe_database_error"]


class AuditError(ValidationError):
    """Base class: the write was refused and nothing was stored."""


class AuditVeto(AuditError):
    """Raised by a hook that refuses a change set; the message is shown to the operator."""


class AuditGuardError(AuditError):
    """A change to a reflected table tried to reach the database without its audit rows."""


# PostgreSQL SQLSTATEs (Appendix A of its manual) and the SQLite texts for the same cases.
_KINDS = (
    ("deadlock", ("40P01",), ("deadlock",),
     "the database stopped this change because it was waiting in a circle with another one at the same moment "
     "(a deadlock); nothing was saved, and trying again is safe"),
    ("lock timeout", ("55P03",), ("database is locked",),
     "the audit trail is busy: another change held its lock longer than the console waits "
     "(AUDIT_LOCK_TIMEOUT_MS); nothing was saved, try again in a moment"),
    ("statement timeout", ("57014",), ("interrupted",),
     "the database cancelled the change because it took too long (STATEMENT_TIMEOUT_MS); nothing was saved"),
    ("missing table", ("42P01",), ("no such table",),
     "the audit table backoffice_audit_events does not exist, so nothing was saved; create it with "
     "`backoffice init-db`"),
    ("refused privilege", ("42501",), ("readonly database", "attempt to write a readonly", "permission denied"),
     "the database refused the console's role the right to write the audit trail, so nothing was saved; "
     "grant it INSERT and SELECT on backoffice_audit_events (`backoffice init-db --console-role ROLE`)"),
)


def describe_database_error(exc: BaseException) -> tuple[str, str]:
    """(kind, sentence for the operator) for a database error met while writing."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "pgcode", None) or ""
    text = str(orig).strip()
    first = text.splitlines()[0] if text else type(orig).__name__
    lowered = text.lower()
    for kind, codes, phrases, sentence in _KINDS:
        if code in codes or (not code and any(p in lowered for p in phrases)):
            if kind == "refused privilege" and "append-only" in lowered:
                break  # the audit table's own trigger: reported below as is
            return kind, f"{sentence} ({type(orig).__name__}: {first})"
    return "database error", f"the database refused the change, so nothing was saved ({type(orig).__name__}: {first})"
