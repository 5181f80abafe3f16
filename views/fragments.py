"""Parts of the list page rendered once per process (the console's ``model/list.html``).

A list page repeats, for every request of a screen, HTML that depends on nothing the
request brings: the style sheets and scripts (about thirty static-file links), the batch
actions menu of a role. :func:`kept` renders such a part on its first request and hands
out the same text afterwards, keyed by the screen, the part's name, the script root the
links were built under and what the template passes as the part's other inputs. A page
with a per-request Content-Security-Policy nonce renders every part afresh (the nonce is
in the tags). The table is per view, bounded, and emptied when full.

:func:`action_form` writes Flask-Admin's batch-action form (``admin/actions.html``'s
``form`` macro) with the page's CSRF token and return URL put into a rendering kept per
screen (``views/action_cache.py`` cuts and fills it, as for row actions).
"""
from __future__ import annotations

from flask import current_app, request
from jinja2 import pass_context
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape

from views.action_cache import action_template, fill

__all__ = ["init_app", "kept", "kept_json", "action_form", "lazy_import", "MAX_KEPT"]

#: Renderings kept per view before the table is emptied.
MAX_KEPT = 256


def init_app(app) -> None:
    app.add_template_global(kept, "backoffice_kept")
    app.add_template_global(action_form, "backoffice_action_form")
    app.add_template_global(kept_json, "backoffice_json")
    app.add_template_global(lazy_import, "backoffice_lazy_import")


def _table(view) -> dict:
    table = view.__dict__.get("_backoffice_kept")
    if table is None:
        table = view.__dict__["_backoffice_kept"] = {}
    return table


def htmlsafe_json(value) -> Markup:
    """Jinja's ``tojson`` filter with the app's policies (Flask's JSON provider)."""
    policies = current_app.jinja_env.policies
    return htmlsafe_json_dumps(value, dumps=policies["json.dumps_function"], **policies["json.dumps_kwargs"])


def _hashable(value):
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def kept(view, name: str, nonce, *inputs, caller) -> Markup:
    """``caller()`` (a ``{% call %}`` block's body), rendered once per view, name, script
    root and ``inputs``; afresh on every page that carries a CSP ``nonce``."""
    if nonce:
        return Markup(caller())
    key = (name, request.script_root, _hashable(inputs))
    table = _table(view)
    html = table.get(key)
    if html is None:
        html = Markup(caller())
        if len(table) >= MAX_KEPT:
            table.clear()
        table[key] = html
    return html


def kept_json(view, name: str, value) -> Markup:
    """``value|tojson`` for the page's ``name`` slot (the filter menu's data: about 8 kB on
    a screen with a dozen filters): the text of the last value that was equal to this one."""
    table = _table(view)
    key = ("json", name)
    last = table.get(key)
    if last is not None and type(last[0]) is type(value) and last[0] == value:
        return last[1]
    text = htmlsafe_json(value)
    if len(table) >= MAX_KEPT:
        table.clear()
    table[key] = (value, text)
    return text


def action_form(view, actions, form, url: str, return_url) -> Markup:
    """``admin/actions.html``'s ``form(actions, url)`` for this page."""
    if not actions or form is None:
        return Markup("")
    csrf_field = getattr(form, "csrf_token", None)
    token = getattr(csrf_field, "current_token", None) if csrf_field else None
    key = ("action_form", request.script_root, url, csrf_field is None, token is None)
    table = _table(view)
    parts = table.get(key)
    if parts is not None and return_url:
        return Markup(fill(parts, return_url, token))
    html = _action_form_html(form, url, return_url, csrf_field)
    if return_url and key not in table:
        cut = action_template(html, return_url, token)
        if cut is not None:
            if len(table) >= MAX_KEPT:
                table.clear()
            table[key] = cut
    return Markup(html)


def _action_form_html(form, url: str, return_url, csrf_field) -> str:
    parts = [f'<form id="action_form" action="{escape(url)}" method="POST" class="d-none">']
    if csrf_field:
        parts.append(str(csrf_field))
    else:
        make_token = current_app.jinja_env.globals.get("csrf_token")
        if make_token:
            parts.append(f'<input type="hidden" name="csrf_token" value="{escape(make_token())}"/>')
    parts.append(str(form.url(value=return_url) if return_url else form.url()))
    parts.append(str(form.action()))
    parts.append("</form>")
    return "".join(parts)


class _LazyTemplateModule:
    """``{% import name as x with context %}``, done on the first use of ``x``."""

    def __init__(self, context, name: str):
        self._context, self._name, self._module = context, name, None

    def __getattr__(self, attribute: str):
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        if self._module is None:
            template = self._context.environment.get_template(self._name)
            self._module = template.make_module(self._context.get_all(), True)
        return getattr(self._module, attribute)


@pass_context
def lazy_import(context, name: str) -> _LazyTemplateModule:
    """A macro library imported with the page's context when a macro of it is first called:
    the list page's row-action macros are needed only until the screen's row actions are
    kept (views/action_cache.py), or for actions the console does not keep."""
    return _LazyTemplateModule(context, name)
