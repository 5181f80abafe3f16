"""Details of a row that cannot be found again, shown in the list itself.

A row is opened from its link by looking its identity up again. Some rows cannot be:
the rows of a view that computes ``now()`` or ``random()`` get a new identity on every
read, and a row whose identifying columns are all NULL (possible in any view) is not
returned by the ORM as a row at all. Such a row gets no dead link: its row actions are
replaced by a disclosure holding its details, rendered from the values the list read.
"""
from __future__ import annotations

from markupsafe import Markup, escape

__all__ = ["STAND_IN", "stand_in", "locatable", "inline_details"]

#: Set on the placeholder of a row the ORM returned as None (all identifying columns NULL).
STAND_IN = "backoffice_stand_in"


def stand_in(model):
    """A transient row of ``model`` with every column NULL, marked as a stand-in."""
    row = model()
    setattr(row, STAND_IN, True)
    return row


def locatable(view, row) -> bool:
    """Whether ``row`` of ``view`` can be opened from a link."""
    return view.entry.locatable and not getattr(row, STAND_IN, False)


def inline_details(view, context, row) -> Markup:
    """The row's details as a ``<details>`` disclosure (marked ``data-details-inline``)."""
    why = ("its values are computed anew on every read" if not view.entry.locatable
           else "its identifying columns are all empty")
    items = []
    formatters = view.column_formatters_detail or {}
    labels = view.column_labels or {}
    for name in view.column_details_list or ():
        formatter = formatters.get(name)
        value = formatter(view, context, row, name) if formatter else getattr(row, name, None)
        items.append(f"<dt>{escape(labels.get(name, name))}</dt><dd>{'' if value is None else escape(value)}</dd>")
    return Markup(f'<details class="backoffice-row-details" data-details-inline>'
                  f'<summary title="This row cannot be opened from a link: {escape(why)}">Details</summary>'
                  f'<dl class="mb-0 small">{"".join(items)}</dl></details>')
