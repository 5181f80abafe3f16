"""List rows without per-row template work: row actions rendered once per page.

Flask-Admin renders the details link, the edit link and the delete form of every
row through Jinja macros: per row that is two ``url_for`` calls, a WTForms hidden
field for the id, one for the return URL and one for the CSRF token. Everything
in that HTML is the same for every row of a page except the row's id, so
:class:`RowRendering` renders each built-in action once per request with a
placeholder id and, per row, puts the row's id where the placeholder was, escaped
exactly as the macro would have escaped it. The CSRF token, the return URL and
the permissions (which actions are offered at all) are the ones Flask-Admin computed
for this request; an action this module does not know is rendered by its macro as before.
With the console's own list template, that rendering is itself kept per screen and
process, the page's return URL and CSRF token put in (``views/action_cache.py``).

The cells of a row are rendered by one call (the same ``get_list_value`` and escaping
as Flask-Admin's loop, without a template call per cell) unless a column is editable
in the list, whose widgets keep their template. What ``get_list_value`` looks up per
cell (the column's formatter, its choices, the type formatter for the value's type)
is looked up once per page. When the screen uses the console's own list template
unchanged, the whole row (selection checkbox, actions, cells) is one call too.
``fast_row_actions = False`` turns all of it off (the tests compare the renderings).
"""
from __future__ import annotations

import secrets

from flask import g, request
from flask_admin.babel import gettext
from flask_admin.model import template as row_templates
from jinja2 import pass_context
from markupsafe import Markup, escape

from backoffice.core.internals import column_choices, list_value_is_flask_admins
from views.action_cache import action_template, fill, in_attribute, in_url
from views.inline import inline_details, locatable
from views.sidebar import cached_sidebar
from views.ux import attribute_reader

__all__ = ["RowRendering", "URL_ACTIONS", "FORM_ACTIONS", "LIST_TEMPLATE", "ROW_PROBE", "ROW_PLACEHOLDER"]

#: The console's list template: its ``list_row`` block calls :meth:`RowRendering.render_row`.
LIST_TEMPLATE = "backoffice/model/list.html"

#: Actions whose macro puts the row id in a URL query (``?id=...``).
URL_ACTIONS = (row_templates.ViewRowAction, row_templates.ViewPopupRowAction,
               row_templates.EditRowAction, row_templates.EditPopupRowAction)
#: Actions whose macro puts ``get_pk_value(row)`` in a hidden input's value.
FORM_ACTIONS = (row_templates.DeleteRowAction,)

# Letters and digits only: identical after URL quoting and HTML escaping. Random per
# process, so no request argument (echoed in the return URL) can contain it.
ROW_PLACEHOLDER = _PLACEHOLDER = "rowid" + secrets.token_hex(12)
#: The stand-in row whose identity is the placeholder (``get_pk_value`` answers it).
ROW_PROBE = _PROBE = object()

_in_url, _in_attribute = in_url, in_attribute


class RowRendering:
    """Fast rows for model views (used by the console's list template); overrides no
    Flask-Admin hook. The view's ``get_pk_value`` must answer :data:`ROW_PROBE` with
    :data:`ROW_PLACEHOLDER` (``views/reading.py`` does)."""

    #: Switch the fast rows off (every row through Flask-Admin's macros and cell loop).
    fast_row_actions: bool = True
    #: With fast rows: every row of the page in one call (:meth:`render_rows`) rather than
    #: one template block per row (the benchmarks switch it off to compare).
    fast_table: bool = True
    #: The sidebar menu rendered once per distinct menu (``views/sidebar.py``) rather than
    #: on every page (the benchmarks switch it off to compare).
    fast_sidebar: bool = True
    #: Built-in row actions rendered once per process and screen, this request's return URL
    #: and CSRF token put in (``views/action_cache.py``), rather than once per page.
    fast_action_cache: bool = True

    def render_sidebar(self, side_menu) -> Markup:
        """The console's ``master.html`` sidebar (its ``side_menu`` macro) for this screen."""
        if not self.fast_sidebar:
            return side_menu(self.admin.menu())  # type: ignore[attr-defined]
        return cached_sidebar(self, side_menu)

    def fast_rows(self) -> bool:
        """Whether the list template may render each row in one call: nothing in the row
        can differ from Flask-Admin's blocks (no column editable in the list, and the
        screen's template is the console's own, so no template overrides a row block)."""
        return bool(self.fast_row_actions and not self.column_editable_list  # type: ignore[attr-defined]
                    and self.list_template == LIST_TEMPLATE)  # type: ignore[attr-defined]

    @pass_context
    def render_rows(self, context, rows, list_columns, actions, row_actions) -> Markup:
        """Every ``<tr>`` of the page in one call (the list template's ``model_list_table``
        when :meth:`fast_rows` holds), as :meth:`render_row` renders each: what is the same
        for every row (the checkbox title, the action plan, the cell plans) is looked up once."""
        pk = self.get_pk_value  # type: ignore[attr-defined]
        cells = self._cell_plans(list_columns) if list_value_is_flask_admins(type(self)) else None
        title = escape(gettext("Select record")) if actions else None
        plan = self._actions_plan(context, row_actions) if self.column_display_actions else None  # type: ignore[attr-defined]
        out: list[str] = []
        add = out.append
        for row in rows:
            row_id = pk(row)
            add("<tr>")
            if title is not None:
                shown_id = escape(row_id)
                add(f'<td><input type="checkbox" name="rowid" class="action-checkbox" '
                    f'value="{shown_id}" title="{title}" aria-label="{title} {shown_id}" /></td>')
            if plan is not None:
                add(f'<td class="list-buttons-column">{self._row_actions(context, plan, row_id, row)}</td>')
            if cells is None:
                add(self.render_row_cells(context, row, list_columns))
            else:
                for opening, value in cells:
                    add(f"{opening}{escape(value(context, row))}</td>")
            add("</tr>")
        return Markup("".join(out))

    @pass_context
    def render_row(self, context, row, list_columns, actions, row_actions, row_id) -> Markup:
        """One whole ``<tr>`` body, as the ``list_row`` block renders it: the selection
        checkbox when batch actions exist, the row actions, then the cells."""
        parts = []
        if actions:
            title = g.get("_backoffice_select_title")
            if title is None:
                title = g._backoffice_select_title = escape(gettext("Select record"))
            parts.append(f'<td><input type="checkbox" name="rowid" class="action-checkbox" '
                         f'value="{escape(row_id)}" title="{title}" aria-label="{title} {escape(row_id)}" /></td>')
        if self.column_display_actions:  # type: ignore[attr-defined]
            rendered = self.render_row_actions(context, row_actions, row_id, row)
            parts.append(f'<td class="list-buttons-column">{rendered}</td>')
        parts.append(self.render_row_cells(context, row, list_columns))
        return Markup("".join(parts))

    @pass_context
    def render_row_cells(self, context, row, list_columns) -> Markup:
        """The ``<td>`` of every list column of one row, as Flask-Admin's cell loop renders
        them when no column is editable in the list (values as ``get_list_value`` gives them)."""
        if not list_value_is_flask_admins(type(self)):
            value = self.get_list_value  # type: ignore[attr-defined]
            return Markup("".join(f'<td class="col-{escape(c)}">{escape(value(context, row, c))}</td>'
                                  for c, _name in list_columns))
        cells = self._cell_plans(list_columns)
        return Markup("".join(f'{opening}{escape(value(context, row))}</td>' for opening, value in cells))

    def _cell_plans(self, list_columns):
        """Per page: each column's ``<td>`` opening and a function giving its value exactly as
        Flask-Admin's ``get_list_value`` does, with the lookups it repeats per cell done once."""
        plans = g.setdefault("_backoffice_cell_plans", {})
        plan = plans.get(id(self))
        if plan is not None and plan[0] is list_columns:
            return plan[1]
        type_formatters = self.column_type_formatters  # type: ignore[attr-defined]
        chosen: dict[type, object] = {}

        def type_formatter_of(value):
            kind = type(value)
            if kind not in chosen:  # the first matching entry, as Flask-Admin's loop finds it
                chosen[kind] = next((f for typeobj, f in type_formatters.items() if isinstance(value, typeobj)), None)
            return chosen[kind]

        def cell(name):
            fmt = self.column_formatters.get(name)  # type: ignore[attr-defined]
            choices = column_choices(self, name)
            read = attribute_reader(name)

            def value_of(context, model):
                value = fmt(self, context, model, name) if fmt is not None else read(model)
                if choices:
                    return choices.get(value) or value
                type_fmt = type_formatter_of(value)
                if type_fmt is None:
                    return value
                try:
                    return type_fmt(self, value, name)
                except TypeError:  # an old two-argument formatter: Flask-Admin's own path handles it
                    return self.get_list_value(context, model, name)  # type: ignore[attr-defined]

            return f'<td class="col-{escape(name)}">', value_of

        cells = [cell(c) for c, _name in list_columns]
        plans[id(self)] = (list_columns, cells)
        return cells

    @pass_context
    def render_row_actions(self, context, actions, row_id, row) -> Markup:
        """The HTML of ``actions`` for one row: per-page parts reused, the id put in. A row
        that cannot be opened from a link shows its details instead (views/inline.py)."""
        return self._row_actions(context, self._actions_plan(context, actions), row_id, row)

    def _actions_plan(self, context, actions):
        plans = g.setdefault("_backoffice_row_actions", {})
        plan = plans.get(id(self))
        if plan is None or plan[0] is not actions:
            plan = plans[id(self)] = (actions, [self._plan(context, action) for action in actions])
        return plan[1]

    def _row_actions(self, context, plan, row_id, row) -> Markup:
        if not locatable(self, row):
            return inline_details(self, context, row)
        parts = []
        in_url = in_attribute = None  # the row's id quoted once per row, not once per action
        for action, pieces, place in plan:
            if pieces is None:
                parts.append(str(action.render(context, row_id, row)))
            elif place == "url":
                in_url = _in_url(row_id) if in_url is None else in_url
                parts.append(in_url.join(pieces))
            else:
                in_attribute = _in_attribute(row_id) if in_attribute is None else in_attribute
                parts.append(in_attribute.join(pieces))
        return Markup("".join(parts))

    def _plan(self, context, action):
        # Exact types only: a subclass may render something else from the row. The HTML is
        # kept split at the placeholder: a row's id is put in by one join.
        if type(action) in URL_ACTIONS:
            return action, self._action_html(context, action).split(_PLACEHOLDER), "url"
        if type(action) in FORM_ACTIONS:
            return action, self._action_html(context, action).split(_PLACEHOLDER), "attribute"
        return action, None, None

    def _action_html(self, context, action) -> str:
        """The action rendered for the placeholder row: from this screen's template of it when
        one was kept (the console's own list and row-action templates only), else its macro."""
        return_url, token = context.get("return_url"), _csrf_token(context)
        cacheable = self.fast_action_cache and self.fast_rows() and return_url
        key = (request.script_root, type(action), action.title, token is None)
        templates = self.__dict__.setdefault("_backoffice_action_templates", {})
        if cacheable and templates.get(key) is not None:
            return fill(templates[key], return_url, token)
        html = str(action.render(context, _PLACEHOLDER, _PROBE))
        if cacheable and key not in templates:
            templates[key] = action_template(html, return_url, token)
            if templates[key] is None:
                del templates[key]  # not cut this time: another page may be
        return html


def _csrf_token(context) -> str | None:
    """The token the delete form writes (Flask-WTF's field), or None."""
    form = context.get("delete_form")
    field = getattr(form, "csrf_token", None) if form is not None else None
    return getattr(field, "current_token", None) if field is not None else None
