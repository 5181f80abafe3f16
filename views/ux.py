"""What operators notice all day on the generated screens: honest flash messages,
readable values (truncated text with the full value on hover, UTC timestamps with
a relative hint, statuses as badges), the menu in the order they use it.

Helpers only: the presentation part (``views/presentation.py``) wraps the column
formatters with :func:`decorated` *after* the view is built, so a declared formatter or
a link still renders; the writes part (``views/writes.py``) words its flashes here.
"""
from __future__ import annotations

import datetime as dt

from flask import flash
from flask_admin.menu import MenuCategory
from flask_admin.tools import rec_getattr
from markupsafe import Markup, escape

from backoffice.core.values import opaque
from views.display import hover_text
from views.names import LIST_TEXT_LIMIT

__all__ = ["init_app", "order_menu", "relative_time", "utc_text", "timestamp", "badge", "truncated", "decorated",
           "row_label", "attribute_reader", "refused_form_message", "created_message", "saved_message", "deleted_message",
           "flash_instead", "shown_flashes", "LIST_TEXT_LIMIT", "STATUS_COLUMNS", "MENU_ORDER"]
#: Columns whose values are shown as badges, and the colour of well-known values.
STATUS_COLUMNS = ("status", "state")
BADGE_COLOURS = {"pending": "warning", "deferred": "info", "applied": "success", "rejected": "secondary",
                 "active": "success", "done": "success", "failed": "danger", "error": "danger"}

#: Menu groups in the order operators use them; other groups go between Audit and Schema.
MENU_ORDER = ("Catalog", "Reviews", "Audit")
LAST_IN_MENU = ("Schema",)

_UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))


def relative_time(when: dt.datetime, now: dt.datetime | None = None) -> str:
    """'3 days ago', 'in 2 hours', 'just now' (naive datetimes are taken as UTC)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    seconds = (now - _as_utc(when)).total_seconds()
    distance = abs(seconds)
    if distance < 60:
        return "just now"
    for unit, size in _UNITS:
        if distance >= size:
            n = int(distance // size)
            text = f"{n} {unit}{'' if n == 1 else 's'}"
            return f"{text} ago" if seconds > 0 else f"in {text}"
    return "just now"  # pragma: no cover - the loop always returns from 60 s on


def _as_utc(value: dt.datetime) -> dt.datetime:
    # The console's convention: a timestamp without a zone is UTC (the demo catalog and
    # SQLite store them so); an aware one is converted, never re-labelled.
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def utc_text(value: dt.datetime) -> str:
    """'2022-01-25 10:00:00 UTC'; fractions of a second are kept when the value has them."""
    utc = _as_utc(value)
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f UTC" if utc.microsecond else "%Y-%m-%d %H:%M:%S UTC")


def timestamp(value: dt.datetime, shown=None) -> Markup:
    """``<time>`` in UTC with a relative hint; ``shown`` (a declared rendering) is kept."""
    utc = _as_utc(value)
    text = utc_text(utc)
    label = shown if isinstance(shown, Markup) else text
    # ISO and UTC texts and the relative hint are digits, letters and "-:+. " only: nothing
    # to escape (this runs for every timestamp cell of every list page).
    return Markup(f'<time class="backoffice-time" datetime="{utc.isoformat()}" title="{text}">{escape(label)}</time> '
                  f'<small class="text-muted backoffice-ago">{relative_time(utc)}</small>')


def init_app(app, admin) -> None:
    """Template filters (``|utc_time``, ``|status_badge``) and the menu order."""
    app.add_template_filter(lambda value: timestamp(value) if isinstance(value, dt.datetime) else value,
                            "utc_time")
    app.add_template_filter(lambda value: badge(value) if isinstance(value, str) else value, "status_badge")
    order_menu(admin)
    ordered = [len(admin.menu())]

    @app.before_request
    def _keep_menu_in_order():
        # Pages added after this call (catalog health, custom code) are put in place too.
        if len(admin.menu()) != ordered[0]:
            order_menu(admin)
            ordered[0] = len(admin.menu())


def order_menu(admin) -> None:
    """Dashboard first, then Catalog, Reviews, Audit, other groups, and the generic Schema last."""
    menu = admin.menu()  # Flask-Admin's own list: the menu is rendered from it
    dashboard = menu[0] if menu else None

    def rank(item) -> tuple[int, int]:
        if item is dashboard:
            return (0, 0)
        name = item.name if isinstance(item, MenuCategory) else None
        if name in MENU_ORDER:
            return (1, MENU_ORDER.index(name))
        if name in LAST_IN_MENU:
            return (3, LAST_IN_MENU.index(name))
        return (2, 0)

    # A new list swapped in whole (stable sort: the order views were added in stays within a
    # rank), so a page rendering the menu meanwhile sees the old order or the new, never a gap.
    menu[:] = sorted(menu, key=rank)


def badge(value: str) -> Markup:
    colour = BADGE_COLOURS.get(value.lower(), "light")
    return Markup('<span class="badge badge-%s backoffice-status">%s</span>') % (colour, value)


def truncated(text: str, shown=None, limit: int = LIST_TEXT_LIMIT) -> Markup:
    """The start of ``text`` (or a declared rendering) with the whole of it on hover."""
    if not isinstance(shown, Markup):
        shown = text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return Markup('<span class="backoffice-truncated" title="%s">%s</span>') % (hover_text(text), shown)


def attribute_reader(name: str):
    """``rec_getattr(model, name)`` for one column, without splitting the name per cell."""
    if "." in name:
        return lambda model: rec_getattr(model, name)

    def read(model):
        try:
            return getattr(model, name)
        except AttributeError:  # rec_getattr's default
            return None

    return read


def decorated(original, name: str, in_list: bool):
    """``original`` (a column formatter or None) with timestamps, status badges and cut text around it."""
    status = name.rsplit(".", 1)[-1] in STATUS_COLUMNS
    read = attribute_reader(name)

    def render(view, context, model, column_name):
        raw = read(model)
        shown = original(view, context, model, column_name) if original else raw
        if isinstance(raw, dt.datetime):
            return timestamp(raw, shown)
        if isinstance(raw, str) and not opaque(raw):  # deep JSON: the formatter's size text stands
            if status and not isinstance(shown, Markup) and len(raw) <= 40:
                return badge(raw)
            if in_list and len(raw) > LIST_TEXT_LIMIT:
                return truncated(raw, shown)
        return shown

    return render


def row_label(view, model) -> str:
    """'#12', or the row's own label when the mapped class has a readable one."""
    pk = view.get_pk_value(model)
    key = ",".join(map(str, pk)) if isinstance(pk, tuple) else str(pk)
    text = str(model)
    if not text or (text.startswith("<") and " at 0x" in text):  # the default object repr
        return f"#{key}"
    text = text if len(text) <= 80 else text[:79] + "…"
    return text if f"#{key}" in text else f"#{key} “{text}”"


def _some(names: list[str], most: int) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def refused_form_message(form) -> str | None:
    """What a refused create or edit form says instead of Flask-Admin's "Failed to save record."."""
    bad = [form[name].label.text if name in form else name for name, errors in form.errors.items() if errors]
    if not bad:
        return None
    noun = "field needs" if len(bad) == 1 else "fields need"
    return f"Nothing was saved: {len(bad)} {noun} attention ({_some(bad, 8)}). What you typed is kept below."


def created_message(where: str, row: str) -> str:
    return f"Created 1 row in {where}: {row}."


def saved_message(where: str, row: str, changed: list[str]) -> str:
    """A save names the fields that changed, or says that none did."""
    if not changed:
        return f"Nothing to save in {where}: {row} is unchanged (no field differs)."
    noun = "field" if len(changed) == 1 else "fields"
    return f"Saved 1 row of {where}: {row}; {len(changed)} {noun} changed ({_some(changed, 8)})."


def deleted_message(where: str, rows: list[str]) -> str:
    count = "1 row" if len(rows) == 1 else f"{len(rows)} rows"
    return f"Deleted {count} from {where}: {_some(rows, 10)}."


#: Category prefix of a message flashed instead of the generic one Flask-Admin flashes next.
_INSTEAD = "instead-of-next:"


def flash_instead(message: str, category: str) -> None:
    """Flash ``message`` in place of the generic message of the same ``category`` that
    Flask-Admin flashes right after it in this request ("Record was successfully
    saved."): that one is then not shown (see :func:`shown_flashes`). Only Flask's public
    ``flash`` and ``get_flashed_messages`` are used; no message text is matched."""
    flash(message, _INSTEAD + category)


def shown_flashes(messages: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The flashed ``(category, message)`` pairs a page shows: a message flashed with
    :func:`flash_instead` takes the place of the next one when that has its category."""
    shown: list[tuple[str, str]] = []
    replaced: str | None = None
    for category, message in messages:
        if replaced is not None and category == replaced:
            replaced = None
            continue
        replaced = None
        if category.startswith(_INSTEAD):
            category = replaced = category[len(_INSTEAD):]
        shown.append((category, message))
    return shown
