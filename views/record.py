"""A record's details page beyond its own columns: the rows that reference it and its history.

*References.* For each foreign key of a screen the operator may see that points at the
record's table: how many rows name the record (counted up to :data:`COUNT_CAP`, then
"1,000+"), the first :data:`FIRST_ROWS` of them in key order with their label column, and
a link to that screen's list filtered to them through the list's own "equals" filters
(the link narrows exactly as an operator's filter would). Composite keys match on every
column; a table referencing itself is one of the tables. On a large table that no index
lets the database search by the referencing columns nothing is counted (each page load
would read the whole table): the page says so and still links the filtered list.

*History.* The record's last :data:`HISTORY_ROWS` audit events, newest first, each with
its columns old -> new (``never_show`` columns masked as in the audit history), a
"Revert..." link where the operator's role permits it, and a link to the full history
filtered to the record. Only for an operator who may read the audit history, and only
for a table with a declared primary key (the audit names rows by it).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import current_app, url_for
from flask_admin.contrib.sqla.filters import FilterEqual
from sqlalchemy import and_, func, inspect, literal_column, select
from sqlalchemy.exc import DBAPIError

from backoffice.core.access import current_operator
from backoffice.core.internals import list_filters
from models.own import audit_events

from audit_hooks.collector import entity_id
from audit_hooks.revert import REVERTIBLE_ACTIONS, reverted_by
from views.names import AUDIT_VIEW_ROLE, db_session, views_of
from views.paging import ShownCount
from views.revert import may_offer_revert

__all__ = ["Reference", "ReferencingRow", "HistoryEvent", "RecordHistory", "references", "history",
           "COUNT_CAP", "FIRST_ROWS", "HISTORY_ROWS"]

#: Rows referencing a record are counted up to this many ("1,000+" past it).
COUNT_CAP = 1000
#: Referencing rows shown per table.
FIRST_ROWS = 5
#: Audit events shown on the record's page (the full history is one link away).
HISTORY_ROWS = 20
_HIDDEN = "(hidden)"


@dataclass
class ReferencingRow:
    """One row that references the record: its label and its details page (None: no page)."""

    label: str
    url: str | None


@dataclass
class Reference:
    """The rows of one table that reference the record through one foreign key."""

    screen: str
    columns: tuple[str, ...]
    count: ShownCount | None  # None: not counted (see ``note``)
    rows: list[ReferencingRow] = field(default_factory=list)
    list_url: str | None = None
    note: str | None = None


@dataclass
class HistoryEvent:
    """One audit event of the record, its changed columns as ``(column, old, new)``."""

    id: int
    occurred_at: dt.datetime
    actor: str
    actor_role: str
    action: str
    op: str
    reason: str | None
    diffs: list[tuple[str, object, object]]
    revert_url: str | None = None
    reverted_by: int | None = None


@dataclass
class RecordHistory:
    """The newest events of one record and the link to all of them."""

    events: list[HistoryEvent]
    more: bool
    full_url: str


# -- references ------------------------------------------------------------------------------

def references(view, model) -> list[Reference]:
    """Every foreign key pointing at ``model``'s table from a screen the operator may see."""
    target = view.entry.table
    screens = [v for v in views_of(current_app)
               if getattr(v, "entry", None) is not None and hasattr(v, "table_size") and v.is_accessible()]
    visible = {v.entry.table.key for v in screens}
    found, seen = [], set()
    for other in screens:
        entry = other.entry
        for constraint in sorted(entry.table.foreign_key_constraints, key=lambda c: [e.parent.name for e in c.elements]):
            if constraint.referred_table is not target:
                continue
            key = (entry.table.key, tuple(e.parent.name for e in constraint.elements))
            if key in seen:  # two screens of one table: the first one listed speaks for it
                continue
            seen.add(key)
            found.append(_reference(other, constraint, model, visible))
    return found


def _reference(other, constraint, model, visible: set[str]) -> Reference:
    elements = list(constraint.elements)
    columns = tuple(e.parent.name for e in elements)
    values = [getattr(model, e.column.key) for e in elements]
    reference = Reference(other.screen if hasattr(other, "screen") else other.name, columns, ShownCount(0))
    if any(v is None for v in values):  # NULL matches nothing: no row can reference this one
        return reference
    reference.list_url, why_no_link = _filtered_list_url(other, elements, values)
    table = other.entry.table
    if other.table_size().large and not _searchable(table, columns):
        reference.count = None
        reference.note = (f"Not counted: no index of {other.entry.qualified_name} starts with "
                          f"{', '.join(columns)}, so counting would read the whole table on every page load.")
        return reference
    condition = and_(*(e.parent == v for e, v in zip(elements, values)))
    session = db_session(other)
    try:
        ones = select(literal_column("1")).select_from(table).where(condition).limit(COUNT_CAP + 1).subquery()
        counted = session.execute(select(func.count()).select_from(ones)).scalar() or 0
        order = inspect(other.entry.model).primary_key
        rows = session.execute(select(other.entry.model).where(condition).order_by(*order)
                               .limit(FIRST_ROWS)).scalars().all()
    except DBAPIError as exc:  # a table the database refuses to read: say so, show the rest
        session.rollback()
        reference.count = None
        reference.note = "Not readable: " + str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return reference
    reference.count = ShownCount(COUNT_CAP, "capped") if counted > COUNT_CAP else ShownCount(counted)
    reference.rows = [ReferencingRow(_label(other, row, constraint, visible), _details_url(other, row)) for row in rows]
    reference.note = why_no_link
    return reference


def _searchable(table, columns) -> bool:
    """Whether an index (primary key and unique constraints included) starts with one of ``columns``."""
    leading = {index.columns[0].name for index in table.indexes if len(index.columns)}
    leading.update(c.columns[0].name for c in table.constraints
                   if c.__class__.__name__ in ("UniqueConstraint", "PrimaryKeyConstraint") and len(c.columns))
    return bool(leading & set(columns))


def _filtered_list_url(other, elements, values) -> tuple[str | None, str | None]:
    """The list URL filtered to the referencing rows by the list's own filters, or why none."""
    filters = list_filters(other)
    args = {}
    for position, (element, value) in enumerate(zip(elements, values)):
        index = next((i for i, flt in enumerate(filters) if isinstance(flt, FilterEqual)
                      and _same_column(flt.column, element.parent)), None)
        if index is None:
            return None, f"Its list offers no filter on {element.parent.name}: the rows above are the first ones."
        args[f"flt{position}_{other.get_filter_arg(index, filters[index])}"] = _filter_text(value)
    return url_for(other.endpoint + ".index_view", **args), None


def _same_column(candidate, column) -> bool:
    expression = getattr(candidate, "expression", candidate)  # a mapped attribute or the column itself
    return getattr(expression, "table", None) is column.table and getattr(expression, "name", None) == column.name


def _filter_text(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"  # Flask-Admin's boolean filter options
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _label(other, row, constraint, visible: set[str]) -> str:
    """The row's label column, then what else it points at (a credit's person, a genre link's
    genre) when that table is one the operator may see: "cast · Ann Lee (#12)"."""
    parts = [_text(row, set(getattr(other, "never_show", ()) or ()))]
    mapper = inspect(type(row))
    own = set(constraint.columns)
    for relationship in mapper.relationships:  # many-to-one only (models/reflection.py): one row each
        if set(relationship.local_columns) == own or relationship.mapper.local_table.key not in visible:
            continue
        parts.append(_text(getattr(row, relationship.key), set()))
    ident = ", ".join(str(v) for v in mapper.primary_key_from_instance(row))
    text = " · ".join(p for p in parts if p)
    return f"{text} (#{ident})" if text else f"#{ident}"


def _text(row, hidden: set[str]) -> str:
    if row is None:
        return ""
    keys = [k for k in getattr(type(row), "__label_keys__", ()) if k not in hidden]
    return " ".join(str(v).strip() for k in keys if (v := getattr(row, k, None)) is not None)


def _details_url(other, row) -> str | None:
    if not getattr(other, "can_view_details", False) or not other.entry.locatable:
        return None
    return url_for(other.endpoint + ".details_view", id=other.get_pk_value(row))


# -- history ---------------------------------------------------------------------------------

def history(view, model) -> RecordHistory | None:
    """The record's newest audit events; None when the operator may not read the audit
    history or the table has no primary key."""
    entry = view.entry
    if not current_operator().may(AUDIT_VIEW_ROLE) or not len(entry.table.primary_key.columns):
        return None
    value = view.get_pk_value(model)
    entity = entity_id(list(value) if isinstance(value, tuple) else [value])
    session = db_session(view)
    rows = session.execute(
        select(audit_events).where(audit_events.c.entity_type == entry.qualified_name,
                                   audit_events.c.entity_id == entity)
        .order_by(audit_events.c.id.desc()).limit(HISTORY_ROWS + 1)).mappings().all()
    shown = [dict(r) for r in rows[:HISTORY_ROWS]]
    reverted = reverted_by(session.connection(), [r["id"] for r in shown]) if shown else {}
    hidden = {c.name for c in entry.table.columns if c.key in view.never_show or c.name in view.never_show}
    events = [_event(row, hidden, reverted.get(row["id"])) for row in shown]
    full = url_for("audit.index_view", table=entry.qualified_name, entity=entity)
    return RecordHistory(events, len(rows) > HISTORY_ROWS, full)


def _event(row: dict, hidden: set[str], reverted: int | None) -> HistoryEvent:
    changes = row["changes"] if isinstance(row["changes"], dict) else {}
    old = changes.get("old") if isinstance(changes.get("old"), dict) else {}
    new = changes.get("new") if isinstance(changes.get("new"), dict) else {}
    diffs = [(c, _HIDDEN if c in hidden else old.get(c), _HIDDEN if c in hidden else new.get(c))
             for c in sorted(set(old) | set(new))]
    event = HistoryEvent(row["id"], row["occurred_at"], row["actor"], row["actor_role"], row["action"],
                         str(changes.get("op", "")), row["reason"], diffs, reverted_by=reverted)
    revertible = row["caused_by"] is None and (row["action"] in REVERTIBLE_ACTIONS
                                               or row["action"].startswith("review."))
    if revertible and reverted is None and may_offer_revert(row):
        event.revert_url = url_for("revert.index_view", event=row["id"])
    return event
