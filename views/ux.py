"""What operators notice all day on the generated screens: honest flash messages,
readable values (truncated text with the full value on hover, UTC timestamps with
a relative hint, statuses as badges).

:class:`OperatorUxMixin` goes first in ``ReflectedModelView``'s bases. It works on
top of whatever other mixins and the declarative file set up: it wraps the column
formatters *after* the view is built, so a declared formatter or a link still
renders, and only the presentation around it changes.
"""
from __future__ import annotations

import datetime as dt
import re

from flask import g, request, session
from flask_admin.menu import MenuCategory
from markupsafe import Markup, escape
from sqlalchemy import inspect as sa_inspect

__all__ = ["OperatorUxMixin", "init_app", "order_menu", "relative_time", "utc_text", "timestamp", "badge",
           "LIST_TEXT_LIMIT", "STATUS_COLUMNS", "MENU_ORDER"]

#: Longer text is cut in lists (the full value is in the title and on the detail page).
LIST_TEXT_LIMIT = 80
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
    ordered = [len(admin._menu)]

    @app.before_request
    def _keep_menu_in_order():
        # Pages added after this call (catalog health, custom code) are put in place too.
        if len(admin._menu) != ordered[0]:
            order_menu(admin)
            ordered[0] = len(admin._menu)


def order_menu(admin) -> None:
    """Dashboard first, then Catalog, Reviews, Audit, other groups, and the generic Schema last."""
    dashboard = admin._menu[0] if admin._menu else None

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
    admin._menu[:] = sorted(admin._menu, key=rank)


def badge(value: str) -> Markup:
    colour = BADGE_COLOURS.get(value.lower(), "light")
    return Markup('<span class="badge badge-%s backoffice-status">%s</span>') % (colour, value)


def truncated(text: str, shown=None, limit: int = LIST_TEXT_LIMIT) -> Markup:
    """The start of ``text`` (or a declared rendering) with the whole of it on hover."""
    if not isinstance(shown, Markup):
        shown = text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return Markup('<span class="backoffice-truncated" title="%s">%s</span>') % (text, shown)


def _decorate(original, name: str, in_list: bool):
    status = name.rsplit(".", 1)[-1] in STATUS_COLUMNS

    def render(view, context, model, column_name):
        raw = view._get_field_value(model, name)
        shown = original(view, context, model, column_name) if original else raw
        if isinstance(raw, dt.datetime):
            return timestamp(raw, shown)
        if isinstance(raw, str):
            if status and not isinstance(shown, Markup) and len(raw) <= 40:
                return badge(raw)
            if in_list and len(raw) > LIST_TEXT_LIMIT:
                return truncated(raw, shown)
        return shown

    return render


def _row_label(view, model) -> str:
    """'#12', or the row's own label when the mapped class has a readable one."""
    pk = view.get_pk_value(model)
    key = ",".join(map(str, pk)) if isinstance(pk, tuple) else str(pk)
    text = str(model)
    if not text or (text.startswith("<") and " at 0x" in text):  # the default object repr
        return f"#{key}"
    text = text if len(text) <= 80 else text[:79] + "…"
    return text if f"#{key}" in text else f"#{key} “{text}”"


class OperatorUxMixin:
    """Presentation and wording for a ReflectedModelView (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        lists = dict(self.column_formatters or {})
        for name, _label in self._list_columns:
            lists[name] = _decorate(lists.get(name), name, in_list=True)
        details = dict(self.column_formatters_detail or self.column_formatters or {})
        for name, _label in self._details_columns:
            details[name] = _decorate(details.get(name), name, in_list=False)
        self.column_formatters, self.column_formatters_detail = lists, details

    # -- what the screen tells the operator -------------------------------------------
    def get_empty_list_message(self) -> str:
        return f"{getattr(self, 'screen', self.name)} has no rows yet."

    def validate_form(self, form):
        valid = super().validate_form(form)
        if not valid and request.method == "POST" and request.endpoint.endswith((".edit_view", ".create_view")):
            bad = [form[name].label.text if name in form else name for name, errors in form.errors.items() if errors]
            if bad:
                fields = ", ".join(bad[:8]) + (f" and {len(bad) - 8} more" if len(bad) > 8 else "")
                noun = "field needs" if len(bad) == 1 else "fields need"
                text = f"Nothing was saved: {len(bad)} {noun} attention ({fields}). What you typed is kept below."
                _replace("Failed to save record.", text)
                _replace("Failed to create record.", text)
        return valid

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        if not is_created:
            state = sa_inspect(model)
            g.backoffice_changed = sorted(
                attr.key for attr in state.mapper.column_attrs if state.attrs[attr.key].history.has_changes())

    def after_model_change(self, form, model, is_created):
        super().after_model_change(form, model, is_created)
        where, row = getattr(self, "screen", self.name), _row_label(self, model)
        if is_created:
            _replace("Record was successfully created.", f"Created 1 row in {where}: {row}.")
            return
        changed = g.pop("backoffice_changed", None) or []
        if changed:
            fields = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
            noun = "field" if len(changed) == 1 else "fields"
            text = f"Saved 1 row of {where}: {row}; {len(changed)} {noun} changed ({fields})."
        else:
            text = f"Nothing to save in {where}: {row} is unchanged (no field differs)."
        _replace("Record was successfully saved.", text)

    def on_model_delete(self, model):
        super().on_model_delete(model)
        g.setdefault("backoffice_deleted", []).append(_row_label(self, model))

    def render(self, template, **kwargs):
        _apply_replacements()  # a page re-rendered in the same request shows the flashes now
        return super().render(template, **kwargs)

    def _run_view(self, fn, *args, **kwargs):
        response = super()._run_view(fn, *args, **kwargs)
        deleted = g.pop("backoffice_deleted", None)
        if deleted:
            where = getattr(self, "screen", self.name)
            rows = "1 row" if len(deleted) == 1 else f"{len(deleted)} rows"
            listed = ", ".join(deleted[:10]) + (f" and {len(deleted) - 10} more" if len(deleted) > 10 else "")
            _replace(_DELETED, f"Deleted {rows} from {where}: {listed}.")
        _apply_replacements()
        return response


#: Flask-Admin's and the bulk delete's success messages, single and plural.
_DELETED = re.compile(r"^(Record was successfully deleted\.|\d+ records were successfully deleted\."
                      r"|\d+ record\(s\) were deleted\.)$")


def _replace(generic, specific: str) -> None:
    g.setdefault("backoffice_flash_rewrites", []).append((generic, specific))


def _apply_replacements() -> None:
    """Swap Flask-Admin's generic success flashes for the specific ones recorded."""
    rewrites = g.pop("backoffice_flash_rewrites", None)
    flashes = session.get("_flashes")
    if not rewrites or not flashes:
        return
    updated = []
    for category, message in flashes:
        for generic, specific in rewrites:
            hit = generic.match(message) if isinstance(generic, re.Pattern) else message == generic
            if hit:
                message = specific
                break
        updated.append((category, message))
    session["_flashes"] = updated

