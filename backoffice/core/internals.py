"""The few places where the console relies on another library's private names.

Everything here is a last resort: a public API does not exist for it (yet). Each
item is one small function with a docstring saying what it relies on and why, and
``tests/test_internals.py`` has a test per item that fails loudly when an upgrade
changes it. Nothing else in the project may touch a library's ``_private`` name.
"""
from __future__ import annotations

from typing import Any

__all__: list[str] = ["session_is_flushing", "update_values"]


# -- audit pipeline (audit_hooks) ------------------------------------------------------------

def session_is_flushing(session: Any) -> bool:
    """True while ``session`` (a SQLAlchemy ORM Session) is inside ``flush()``.

    Relies on ``Session._flushing``. The audit guard lets DML reach a reflected table
    only while the application's session flushes (the collector audits that flush);
    SQLAlchemy offers no public flag for it.
    """
    return bool(session._flushing)


def update_values(statement: Any) -> dict:
    """The ``SET`` clause of a Core/ORM ``update()`` construct (column or name -> value).

    Relies on ``ValuesBase._values``. The collector refuses a bulk UPDATE of a primary
    key (it could not audit the row under its old and new key); the construct exposes
    its values only through this attribute. ``{}`` for ``delete()``.
    """
    return dict(getattr(statement, "_values", None) or {})
