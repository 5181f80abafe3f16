"""List rows without per-row template work: row actions rendered once per page.

Flask-Admin renders the details link, the edit link and the delete form of every
row through Jinja macros: per row that is two ``url_for`` calls, a WTForms hidden
field for the id, one for the return URL and one for the CSRF token. Everything
in that HTML is the same for every row of a page except the row's id, so
:class:`RowActionsMixin` renders each built-in action once per request with a
placeholder id and, per row, puts the row's id where the placeholder was, escaped
exactly as the macro would have escaped it. The CSRF token, the return URL and
the permissions (which actions are offered at all) are the ones Flask-Admin computed
for this request; an action the mixin does not know is rendered by its macro as before.

The cells of a row are rendered by one call (the same ``get_list_value`` and escaping
as Flask-Admin's loop, without a template call per cell) unless a column is editable
in the list, whose widgets keep their template. ``fast_row_actions = False`` turns both
off (the tests compare the two renderings).
"""
from __future__ import annotations

import secrets
from urllib.parse import quote_plus

from flask import g
from flask_admin.model import template as row_templates
from jinja2 import pass_context
from markupsafe import Markup, escape

__all__ = ["RowActionsMixin", "URL_ACTIONS", "FORM_ACTIONS"]

#: Actions whose macro puts the row id in a URL query (``?id=...``).
URL_ACTIONS = (row_templates.ViewRowAction, row_templates.ViewPopupRowAction,
               row_templates.EditRowAction, row_templates.EditPopupRowAction)
#: Actions whose macro puts ``get_pk_value(row)`` in a hidden input's value.
FORM_ACTIONS = (row_templates.DeleteRowAction,)

# Letters and digits only: identical after URL quoting and HTML escaping. Random per
# process, so no request argument (echoed in the return URL) can contain it.
_PLACEHOLDER = "rowid" + secrets.token_hex(12)
_PROBE = object()  # the stand-in row whose primary key is the placeholder

# The characters werkzeug leaves unquoted in a query value (werkzeug.urls._urlencode).
_URL_SAFE = "!$'()*,/:;?@"


def _in_url(row_id) -> str:
    return str(escape(quote_plus(str(row_id), safe=_URL_SAFE)))


def _in_attribute(row_id) -> str:
    return str(escape(row_id))


class RowActionsMixin:
    """Fast ``list_row_actions`` for model views (used by the console's list template)."""

    #: Switch the fast rows off (every row through Flask-Admin's macros and cell loop).
    fast_row_actions: bool = True

    def get_pk_value(self, model):
        if model is _PROBE:
            return _PLACEHOLDER
        return super().get_pk_value(model)  # type: ignore[misc]

    @pass_context
    def render_row_cells(self, context, row, list_columns) -> Markup:
        """The ``<td>`` of every list column of one row, as Flask-Admin's cell loop renders
        them when no column is editable in the list (values through ``get_list_value``)."""
        value = self.get_list_value
        return Markup("".join(f'<td class="col-{escape(c)}">{escape(value(context, row, c))}</td>'
                              for c, _name in list_columns))

    @pass_context
    def render_row_actions(self, context, actions, row_id, row) -> Markup:
        """The HTML of ``actions`` for one row: per-page parts reused, the id put in."""
        plans = g.setdefault("_backoffice_row_actions", {})
        plan = plans.get(id(self))
        if plan is None or plan[0] is not actions:
            plan = plans[id(self)] = (actions, [self._plan(context, action) for action in actions])
        parts = []
        for action, template, place in plan[1]:
            if template is None:
                parts.append(str(action.render(context, row_id, row)))
            elif place == "url":
                parts.append(template.replace(_PLACEHOLDER, _in_url(row_id)))
            else:
                parts.append(template.replace(_PLACEHOLDER, _in_attribute(row_id)))
        return Markup("".join(parts))

    def _plan(self, context, action):
        # Exact types only: a subclass may render something else from the row.
        if type(action) in URL_ACTIONS:
            return action, str(action.render(context, _PLACEHOLDER, _PROBE)), "url"
        if type(action) in FORM_ACTIONS:
            return action, str(action.render(context, _PLACEHOLDER, _PROBE)), "attribute"
        return action, None, None
