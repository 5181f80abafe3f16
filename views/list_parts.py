"""The list page's header row, tab bar and filter form written in Python (``backoffice/model/list.html``).

Flask-Admin renders both through Jinja: per column a permission check, a sort URL, a
translated title and half a dozen escapes; per tab a URL or a form. These functions write
the same HTML from the same context values (the template's ``sort_url``, ``page_size_url``,
``return_url``...), and the template uses them only where it could not differ from its
blocks: the screen shows the console's own list template unchanged and the view's fast
paths are on (``RowRendering.fast_rows``). ``tests/test_list_rendering.py`` compares them
with the blocks (fast paths off), ``tests/test_list_template.py`` with Flask-Admin's page.
"""
from __future__ import annotations

from flask import request
from flask_admin.babel import gettext, ngettext
from jinja2 import pass_context
from markupsafe import Markup, escape

__all__ = ["init_app", "list_header", "menu_bar", "filter_form"]


def init_app(app) -> None:
    app.add_template_global(list_header, "backoffice_list_header")
    app.add_template_global(menu_bar, "backoffice_menu_bar")
    app.add_template_global(filter_form, "backoffice_filter_form")


@pass_context
def list_header(context) -> Markup:
    """The ``list_header`` block: the select-all box, the actions column, a sortable title
    per list column with its description."""
    view = context["admin_view"]
    sort_column, sort_desc, sort_url = context["sort_column"], context["sort_desc"], context["sort_url"]
    out = []
    if context["actions"]:
        select_all = escape(gettext("Select all records"))
        out.append(f'<th class="list-checkbox-column"><input type="checkbox" name="rowtoggle" '
                   f'class="action-rowtoggle" title="{select_all}" aria-label="{select_all}" /></th>')
    if view.column_display_actions:
        out.append('<th class="">&nbsp;</th>')
    descriptions = view.column_descriptions
    for index, (column, name) in enumerate(context["list_columns"]):
        out.append(f'<th class="column-header col-{escape(column.replace(".", "-"))}">')
        if view.is_sortable(column):
            title = escape(gettext("Sort by %(name)s", name=name))
            if sort_column == index:
                arrow = "down" if sort_desc else "up"
                out.append(f'<a href="{escape(sort_url(index, True))}" title="{title}">{escape(name)}'
                           f'<span class="fa fa-chevron-{arrow} glyphicon glyphicon-chevron-{arrow}"></span></a>')
            else:
                out.append(f'<a href="{escape(sort_url(index))}" title="{title}">{escape(name)}</a>')
        else:
            out.append(str(escape(name)))
        description = descriptions.get(column)
        if description:
            out.append(f'<a class="fa fa-question-circle glyphicon glyphicon-question-sign" '
                       f'title="{escape(description)}" href="javascript:void(0)" data-role="tooltip"></a>')
        out.append("</th>")
    return Markup("".join(out))


def _hidden(name, value) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


@pass_context
def menu_bar(context, actions_menu: Markup) -> Markup:
    """The ``model_menu_bar`` block without its two inner blocks (empty in the console's
    template): List, Create, Export, filters, page size, the batch ``actions_menu`` (kept
    per role by the template), search, then the link to recently deleted rows."""
    view = context["admin_view"]
    get_url, return_url = context["get_url"], context["return_url"]
    count = context["count"]
    out = ['<ul class="nav nav-tabs"><li class="nav-item"><a href="javascript:void(0)" class="nav-link active">',
           str(escape(gettext("List"))), f" ({escape(count)})" if count else "", "</a></li>"]
    if view.can_create:
        title, create = escape(gettext("Create New Record")), escape(gettext("Create"))
        if view.create_modal:
            url = get_url(".create_view", url=return_url, modal=True)
            out.append(f'<li class="nav-item"><a class="nav-link" data-target="#fa_modal_window" title="{title}" '
                       f'href="{escape(url)}" data-toggle="modal">{create}</a></li>')
        else:
            url = get_url(".create_view", url=return_url)
            out.append(f'<li class="nav-item"><a href="{escape(url)}" title="{title}" class="nav-link">{create}</a></li>')
    if view.can_export:
        out.append(_export_tab(view, get_url))
    filters, filter_groups = context["filters"], context["filter_groups"]
    if filters:
        out.append('<li class="nav-item dropdown"><a class="nav-link dropdown-toggle" data-toggle="dropdown" '
                   f'href="javascript:void(0)">{escape(gettext("Add Filter"))}</a><div class="dropdown-menu field-filters">')
        out.extend(f'<a href="javascript:void(0)" class="dropdown-item filter">{escape(k)}</a>' for k in filter_groups)
        out.append("</div></li>")
    page_size = context["page_size"]
    if context["can_set_page_size"]:
        page_size_url = context["page_size_url"]
        out.append('<li class="nav-item dropdown"><a class="nav-link dropdown-toggle" data-toggle="dropdown" '
                   f'href="javascript:void(0)">{escape(page_size)} {escape(gettext("items"))}</a><div class="dropdown-menu">')
        for option in view.page_size_options:
            active = " active" if page_size == option else ""
            label = escape(ngettext(f"{option} item", f"{option} items", option))
            out.append(f'<a class="dropdown-item{active}" href="{escape(page_size_url(option))}">{label}</a>')
        out.append("</div></li>")
    if context["actions"]:
        out.append(f'<li class="nav-item dropdown">{actions_menu}</li>')
    if context["search_supported"]:
        out.append(f'<li class="nav-item ml-2">{_search_form(context, page_size)}</li>')
    out.append("</ul>")
    entry = getattr(view, "entry", None)
    if view.can_delete and entry:
        url = get_url("revert.deleted_view", table=entry.qualified_name)  # url_for's text, remembered
        out.append(f'<p class="small mb-2"><a class="backoffice-recently-deleted" href="{escape(url)}">Recently deleted</a></p>')
    return Markup("".join(out))


def _export_tab(view, get_url) -> str:
    title = escape(gettext("Export"))
    args = request.args
    if len(view.export_types) > 1:
        links = "".join(f'<a class="dropdown-item" href="{escape(get_url(".export", export_type=kind, **args))}" '
                        f'title="{title}">{escape(gettext("Export") + " " + kind.upper())}</a>'
                        for kind in view.export_types)
        return ('<li class="dropdown"><a class="nav-link dropdown-toggle" data-toggle="dropdown" href="javascript:void(0)" '
                f'role="button" aria-haspopup="true" aria-expanded="false">{title}</a><div class="dropdown-menu">{links}</div></li>')
    url = get_url(".export", export_type=view.export_types[0], **args)
    return f'<li><a class="nav-link" href="{escape(url)}" title="{title}">{title}</a></li>'


@pass_context
def filter_form(context) -> Markup:
    """``admin/model/layout.html``'s ``filter_form()``: the form the filter menu fills in."""
    out = [f'<form id="filter_form" method="GET" action="{escape(context["return_url"])}">']
    out.extend(_hidden(name, value) for name, value in context["extra_args"].items())
    if context["sort_column"] is not None:
        out.append(_hidden("sort", context["sort_column"]))
    if context["sort_desc"]:
        out.append(_hidden("desc", 1))
    if context["search"]:
        out.append(_hidden("search", context["search"]))
    if context["page_size"] != context["default_page_size"]:
        out.append(_hidden("page_size", context["page_size"]))
    out.append(f'<div class="pull-right"><button type="submit" class="btn btn-primary d-none">{escape(gettext("Apply"))}</button>')
    if context["active_filters"]:
        out.append(f'<a href="{escape(context["clear_search_url"])}" class="btn btn-secondary">'
                   f'{escape(gettext("Reset Filters"))}</a>')
    out.append('</div><table class="filters"></table></form><div class="clearfix"></div>')
    return Markup("".join(out))


def _search_form(context, page_size) -> str:
    search, clear_url = context["search"], context["clear_search_url"]
    out = [f'<form method="GET" action="{escape(context["return_url"])}" class="form-inline my-2 my-lg-0" role="search">']
    out.extend(_hidden(name, value) for name, value in context["filter_args"].items())
    if page_size != context["default_page_size"]:
        out.append(_hidden("page_size", page_size))
    out.extend(_hidden(name, value) for name, value in context["extra_args"].items())
    if context["sort_column"] is not None:
        out.append(_hidden("sort", context["sort_column"]))
    if context["sort_desc"]:
        out.append(_hidden("desc", 1))
    placeholder = escape(gettext("%(placeholder)s", placeholder=context["search_placeholder"]))
    button = f'<button class="btn btn-secondary my-2 my-sm-0 ml-2" type="submit">{escape(gettext("Search"))}</button>'
    if search:
        out.append(f'<div class="form-inline input-group"><input class="form-control col-auto" size="30" type="text" '
                   f'name="search" value="{escape(search)}" placeholder="{placeholder}"><div class="input-group-append">'
                   f'<span class="input-group-text"><a href="{escape(clear_url)}" class="align-middle">'
                   f'<span class="fa fa-times glyphicon glyphicon-remove"></span></a></span></div>{button}</div>')
    else:
        out.append(f'<div class="form-inline"><input class="form-control col-auto" size="30" type="text" name="search" '
                   f'value="" placeholder="{placeholder}">{button}</div>')
    out.append("</form>")
    return "".join(out)
