"""What every screen module shares: how a table's screen is addressed, the list of the
views an app holds, and the least role of the console's own audit pages. The bottom of ``views/``: it imports nothing
of ``views``, so any screen module may use it without closing a loop.
"""
from __future__ import annotations

from models.reflection import python_identifier

__all__ = ["endpoint_for", "screen_url", "add_view", "views_of", "AUDIT_VIEW_ROLE", "LIST_TEXT_LIMIT", "NULL_MARK",
           "db_session"]

#: Least role that may read the audit history (old values of every table are in it).
AUDIT_VIEW_ROLE = "operator"
#: Longer text is cut in lists (the full value is in the title and on the detail page).
LIST_TEXT_LIMIT = 80
#: A NULL column of a row identity travels in URLs as a NUL character (PostgreSQL text
#: can never hold one, so it cannot collide with a value).
NULL_MARK = "\x00"


def endpoint_for(screen: str) -> str:
    """The Flask endpoint (blueprint) name of a table's screen."""
    return "table_" + python_identifier(screen)


def screen_url(screen: str) -> str:
    """The URL prefix of a table's screen. URL rules match the decoded path: names are kept
    as they are (non-ASCII included); only characters that would split a URL become "_"."""
    return "/admin/" + "".join("_" if c in "/?#%" else c for c in screen)


def db_session(view):
    """The SQLAlchemy session of a model view: Flask-Admin 2 keeps the Flask-SQLAlchemy
    extension in ``view.session`` (its ``.session`` is the scoped session); a view built
    with a plain session keeps that."""
    return getattr(view.session, "session", view.session)


def add_view(app, admin, view) -> None:
    """Add ``view`` to ``admin`` and to the app's list of its views (:func:`views_of`)."""
    admin.add_view(view)
    app.extensions.setdefault("backoffice.views", []).append(view)


def views_of(app) -> list:
    """Every view the console added to ``app``'s Admin, in the order they were added."""
    return app.extensions.get("backoffice.views", [])
