"""How values look in lists, detail pages and exports: readable, never raw bytes.

Foreign keys become links to the related row's screen.
"""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import current_app, url_for
from markupsafe import Markup
from werkzeug.routing import BuildError

from models.reflection import ReflectedTable

from backoffice.core.values import JSON_DEPTH_LIMIT, DeepJSON, UndecodableText, opaque
from views.fields import format_interval
from views.identity import encode_values
from views.names import LIST_TEXT_LIMIT, endpoint_for

__all__ = ["display_value", "formatter", "link_targets", "LIST_TEXT_LIMIT", "HOVER_TEXT_LIMIT", "size_text",
           "hover_text"]

#: The text shown on hover over a shortened cell stops here: a 1 MB value must not make
#: every list page carry it whole (the details page shows the whole value).
HOVER_TEXT_LIMIT = 1000


def size_text(size: int) -> str:
    return f"{size:,} bytes" if size < 1024 else f"{size / 1024:,.1f} KiB ({size:,} bytes)"


def _opaque(value) -> str:
    if isinstance(value, UndecodableText):
        return f"text that is not UTF-8 ({size_text(len(value))})"
    if isinstance(value, DeepJSON):
        return f"JSON nested deeper than {JSON_DEPTH_LIMIT} levels, not shown ({size_text(value.size)})"
    return size_text(len(bytes(value)))


def hover_text(text: str) -> str:
    """``text`` cut to :data:`HOVER_TEXT_LIMIT` characters for a ``title`` attribute."""
    return text if len(text) <= HOVER_TEXT_LIMIT else text[: HOVER_TEXT_LIMIT - 1] + "…"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def display_value(value, category: str, limit: int | None = LIST_TEXT_LIMIT):
    """A readable rendering of one value (``None`` stays None for Flask-Admin's empty cell)."""
    if value is None:
        return None
    if opaque(value):  # whatever the column's declared type: SQLite keeps blobs anywhere
        return _opaque(value)
    if category == "json":
        text = json.dumps(value, ensure_ascii=False, default=str,
                          indent=None if limit else 2, sort_keys=False)
        return Markup("<pre class='mb-0'>%s</pre>") % text if not limit else _shorten(text, limit)
    if category == "array":
        text = ", ".join("NULL" if v is None else str(v) for v in value)
        return _shorten(text, limit) if limit else text
    if category == "interval" and isinstance(value, timedelta):
        return format_interval(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, Decimal):
        return format(value, "f")  # fixed-point, as the database writes it: never 1E-7
    if isinstance(value, (date, time, uuid.UUID)):
        return str(value)
    if isinstance(value, str) and limit:
        return _shorten(value, limit)
    if category == "tsvector" and limit:
        return _shorten(str(value), limit)
    return value


def link_targets(entry: ReflectedTable, model) -> dict[str, tuple]:
    """column key -> (referred table, {referred column name: local key}, relationship key)."""
    relations = {frozenset(c.key for c in rel.local_columns): rel.key for rel in model.__mapper__.relationships}
    targets = {}
    for constraint in entry.table.foreign_key_constraints:
        local = {fk.column.name: fk.parent.key for fk in constraint.elements}
        targets_table = constraint.elements[0].column.table
        relation = relations.get(frozenset(local.values()))
        for fk in constraint.elements:
            targets[fk.parent.key] = (targets_table, local, relation)
    return targets


def _link_for(model, target_table, local: dict[str, str], _relation=None):
    reflection = current_app.extensions.get("backoffice.reflection")
    screen = reflection.screen_of(target_table) if reflection else None
    if screen is None:
        return None
    target = reflection.tables[screen]
    if set(target.primary_key) != set(local):
        return None
    values = [getattr(model, local[name]) for name in target.primary_key]
    if any(v is None for v in values):
        return None
    try:
        return url_for(endpoint_for(screen) + ".details_view", id=encode_values(target, values))
    except BuildError:  # the target has no screen in this app
        return None


def formatter(plan, link, limit):
    """List cells show the raw foreign-key value as a link (no extra query per row);
    detail pages name the related row (``ACADEMY DINOSAUR (#1)``)."""
    def render(_view, _context, model, _name):
        value = getattr(model, plan.key)
        shown = display_value(value, plan.category, limit)
        if link is not None and value is not None:
            url = _link_for(model, *link)
            if url and limit is None and link[2]:
                shown = str(getattr(model, link[2]))
            if url:
                return Markup('<a href="%s">%s</a>') % (url, "" if shown is None else shown)
        return shown

    return render
