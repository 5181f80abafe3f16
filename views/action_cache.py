"""Row actions rendered once per process: the request's return URL and CSRF token put in.

:class:`~views.rowactions.RowRendering` renders each built-in row action once per page
with a placeholder id. What else differs between two pages of one screen is the return
URL (in the details and edit links' ``url=`` query value, and in the delete form's
hidden ``url`` input) and the CSRF token (in the delete form's hidden ``csrf_token``
input). :func:`action_template` cuts a rendering at exactly those places, found by the
text the console's ``admin/model/row_actions.html`` macros write around them, and keeps
it only when :func:`fill` gives back that very rendering; a later page fills in its own
values, quoted and escaped as the macros quote and escape them. Anything unexpected
(no anchor where one is due, a value found nowhere) leaves the action to its macro.
"""
from __future__ import annotations

import re
from urllib.parse import quote_plus

from markupsafe import escape

__all__ = ["action_template", "fill", "in_url", "in_attribute"]

# The characters werkzeug leaves unquoted in a query value (werkzeug.urls._urlencode).
_URL_SAFE = "!$'()*,/:;?@"
_URL, _FIELD, _TOKEN = object(), object(), object()


def in_url(value) -> str:
    """``value`` as a query value inside an HTML attribute (werkzeug's quoting, then escaped)."""
    text = str(value)
    if text.isascii() and text.isdigit():
        return text  # ASCII digits: neither quoted nor escaped
    return str(escape(quote_plus(text, safe=_URL_SAFE)))


def in_attribute(value) -> str:
    """``value`` as WTForms writes it in an input's ``value`` attribute."""
    return str(escape(value))


def _anchors(return_url: str, token: str | None):
    yield _URL, "url=", in_url(return_url), ""
    yield _FIELD, 'name="url" type="hidden" value="', in_attribute(return_url), '"'
    if token is not None:
        yield _TOKEN, 'name="csrf_token" type="hidden" value="', in_attribute(token), '"'


def action_template(html: str, return_url: str, token: str | None):
    """``html`` as a list of text and slots (return URL in a link, in the form, the token),
    or None when it cannot be cut safely: the return URL must be distinctive (it carries a
    query string) and, once cut, neither it nor the token may be left anywhere in the text."""
    if not return_url or "?" not in return_url or (token is None and "csrf_token" in html):
        return None
    anchors = list(_anchors(return_url, token))
    pattern = re.compile("|".join(f"({re.escape(before + value + after)})" for _s, before, value, after in anchors))
    parts: list = []
    position = 0
    for found in pattern.finditer(html):
        slot, before, _value, after = anchors[found.lastindex - 1]
        parts += [html[position:found.start()] + before, slot]
        position = found.end() - len(after)
    parts.append(html[position:])
    text = "".join(part for part in parts if isinstance(part, str))
    left = [in_url(return_url), in_attribute(return_url), return_url] + ([in_attribute(token)] if token else [])
    if any(value in text for value in left) or fill(parts, return_url, token) != html:
        return None  # written some other way too: it would stay frozen
    return parts


def fill(parts, return_url: str, token: str | None) -> str:
    """The rendering of an :func:`action_template` for this request's values."""
    values = {_URL: in_url(return_url), _FIELD: in_attribute(return_url),
              _TOKEN: in_attribute(token) if token is not None else ""}
    return "".join(values[part] if part is _URL or part is _FIELD or part is _TOKEN else part for part in parts)
