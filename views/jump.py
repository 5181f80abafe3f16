"""``/admin/jump/?q=``: the top bar's "jump to" box. Finds screens by name and records by
id or by their label column, among what the operator's role may open.

Bounded on any catalog: at most :data:`PER_TABLE` records per table and :data:`MAX_RECORDS`
in all, and on a table above :data:`SCAN_LIMIT` rows only indexed lookups: primary-key
equality, and label equality when an index leads with the label column. A smaller table
may also be matched by label prefix, case-insensitively (it is read whole, cheaply).
"""
from __future__ import annotations

import datetime as dt
import decimal
import logging

from flask import current_app, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import func, select

from views.names import db_session, views_of

__all__ = ["JumpView", "find_screens", "find_records", "MAX_QUERY", "SCAN_LIMIT"]

log = logging.getLogger(__name__)

#: Longer questions are cut: an identifier or a title fits.
MAX_QUERY = 100
PER_TABLE = 5
MAX_RECORDS = 50
#: Above this many rows (the screen's own size estimate) a table gets indexed lookups only.
SCAN_LIMIT = 10_000


def _menu_items(admin):
    for item in admin.menu():
        if item.is_category():
            for child in item.get_children():  # Flask-Admin keeps only accessible, visible children
                yield item.name, child
        elif item.is_accessible() and item.is_visible():
            yield None, item


def find_screens(admin, q: str) -> list[dict]:
    """Menu entries whose name (or category) holds ``q``, as the operator's menu shows them."""
    needle = q.casefold()
    found = []
    for category, item in _menu_items(admin):
        if item.is_category():
            continue
        if needle in item.name.casefold() or (category and needle in category.casefold()):
            found.append({"name": item.name, "category": category, "url": item.get_url()})
    return found


def _typed(column, q: str):
    """``q`` as a value of ``column``'s type, or None when it cannot be one."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return None
    try:
        if kind is int:
            return int(q) if q.lstrip("-").isdigit() else None
        if kind is str:
            return q
        if kind is decimal.Decimal:
            return decimal.Decimal(q)
        if kind is dt.date:
            return dt.date.fromisoformat(q)
    except (ValueError, ArithmeticError):
        return None
    return None


def _label_column(view):
    keys = getattr(view.entry.model, "__label_keys__", ())
    if not keys:
        return None
    never = getattr(view, "never_show", frozenset())
    column = next((c for c in view.entry.table.columns if c.key == keys[0]), None)
    if column is None or column.key in never or column.name in never:
        return None  # a hidden column is never searched: a match would reveal its value
    return column


def _conditions(view, q: str):
    """(condition, how) pairs for ``view``'s table: pk equality, then a label lookup."""
    entry, table = view.entry, view.entry.table
    small = view.table_size().rows <= SCAN_LIMIT
    indexed = view.indexed_names()
    pk = list(table.primary_key.columns)
    found = []
    # A view's primary key is a stand-in: no index behind it, so only a small view is asked.
    if len(pk) == 1 and (entry.kind != "view" or small) and (value := _typed(pk[0], q)) is not None:
        found.append((pk[0] == value, "id"))
    label = _label_column(view)
    if label is not None and label.type.python_type is str:
        if small:
            pattern = q.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            found.append((func.lower(label).like(pattern, escape="\\"), label.name))
        elif label.name in indexed and entry.kind != "view":
            found.append((label == q, label.name))
    return found


def find_records(q: str) -> tuple[list[dict], list[str]]:
    """Records of the screens this operator may open matching ``q``; and notes on the
    large tables that were asked for an exact value only."""
    records, exact_only = [], []
    for view in views_of(current_app):
        if getattr(view, "entry", None) is None or view.entry.model is None or not view.is_accessible():
            continue
        if len(records) >= MAX_RECORDS:
            break
        session = db_session(view)
        try:
            conditions = _conditions(view, q)
            if view.table_size().rows > SCAN_LIMIT:
                exact_only.append(view.name)
            for condition, how in conditions:
                rows = session.execute(select(view.entry.model).where(condition).limit(PER_TABLE)).scalars().all()
                for row in rows:
                    pk = view.get_pk_value(row)
                    target = f"{view.endpoint}.details_view" if view.can_view_details else f"{view.endpoint}.edit_view"
                    records.append({"screen": view.name, "label": str(row), "how": how,
                                    "url": url_for(target, id=pk)})
        except Exception as error:  # noqa: BLE001  one odd table never breaks the search
            session.rollback()
            log.info("jump: %s not searched (%s)", view.name, str(getattr(error, "orig", error)).splitlines()[0])
    unique, seen = [], set()
    for record in records:
        if record["url"] not in seen:
            seen.add(record["url"])
            unique.append(record)
    return unique[:MAX_RECORDS], exact_only


class JumpView(BaseView):
    """The results of the top bar's "jump to" box (not in the menu; every signed-in role)."""

    def __init__(self):
        super().__init__(name="Jump to", endpoint="jump", url="/admin/jump")

    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self):
        q = " ".join(request.args.get("q", "").split())[:MAX_QUERY]
        screens, records, exact_only = [], [], []
        if q:
            screens = find_screens(self.admin, q)
            records, exact_only = find_records(q)
        return self.render("backoffice/jump.html", q=q, screens=screens, records=records, exact_only=exact_only,
                           per_table=PER_TABLE, limit=MAX_RECORDS)
