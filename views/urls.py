"""A screen's URLs without a ``url_for`` per link (``ReadingPart.get_url``, views/reading.py).

A list page builds ~50 URLs of a few endpoints: sort, pager, filter and page-size links
(one rule, no path arguments) and the static files (a path argument). The first get
their path built once per request and the query string appended as werkzeug appends it;
the second are remembered per process. Whatever could make the text differ from
``url_for``'s (``_external``/``_anchor``/``_method``/``_scheme``, URL-default callbacks,
sorted parameters, rules with defaults, no request) goes to ``url_for``.
"""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote_plus, urlencode

from flask import current_app, g, has_request_context, request, url_for
from werkzeug.datastructures import iter_multi_items

__all__ = ["request_url"]


def request_url(endpoint: str, kwargs: dict) -> str:
    """``url_for(endpoint, **kwargs)``, the same text, cheaper when asked again."""
    if not _prefixable(kwargs):
        return url_for(endpoint, **kwargs)
    known = _request_urls()
    if known is None:  # no request: url_for decides (it raises what it raises)
        return url_for(endpoint, **kwargs)
    prefix = known.get(endpoint)
    if prefix is None:
        # Flask resolves ".name" against the blueprint of the request, whatever view asks.
        blueprint = request.blueprint
        full = endpoint if endpoint[:1] != "." else (f"{blueprint}{endpoint}" if blueprint else endpoint[1:])
        prefix = known[endpoint] = url_for(full) if _plain_endpoint(full) else ""
    if not prefix:
        return _remembered_url(known, endpoint, kwargs)
    # werkzeug.routing.Map.build drops None values; the rule appends the rest in order
    # (lists as repeated keys, None items dropped) with werkzeug.urls' quoting.
    items = [item for item in iter_multi_items({k: v for k, v in kwargs.items() if v is not None})
             if item[1] is not None]
    if not items:
        return prefix
    if any(isinstance(k, bytes) or isinstance(v, bytes) for k, v in items):
        return f"{prefix}?{urlencode(items, safe=_URL_SAFE)}"
    # urlencode's own steps (str() then quote_plus with the same safe characters), with each
    # text's quoting remembered: a page quotes the same few keys and values dozens of times.
    return f"{prefix}?{'&'.join(f'{_quoted(str(k))}={_quoted(str(v))}' for k, v in items)}"


# The characters werkzeug leaves unquoted in a query value (werkzeug.urls._urlencode).
_URL_SAFE = "!$'()*,/:;?@"


def _quoted(text: str) -> str:
    # Short texts only are remembered (at most 4,096 of 64 characters: a few hundred kB).
    return _quoted_short(text) if len(text) <= 64 else quote_plus(text, safe=_URL_SAFE)


@lru_cache(maxsize=4096)
def _quoted_short(text: str) -> str:
    return quote_plus(text, safe=_URL_SAFE)


def _prefixable(kwargs: dict) -> bool:
    # _anchor, _external, _method, _scheme change the URL's shape: url_for handles them.
    return not any(key[:1] == "_" for key in kwargs)


def _request_urls() -> dict | None:
    """This request's URL prefixes by endpoint as asked ("" where there is none), and
    ``None``: the request's host, scheme and script root. None outside a request."""
    try:
        return g._backoffice_urls
    except AttributeError:
        pass
    except RuntimeError:  # no application context at all
        return None
    if not has_request_context():
        return None
    known = g._backoffice_urls = {None: (request.host, request.scheme, request.script_root)}
    return known


def _plain_endpoint(endpoint: str) -> bool:
    """One rule without path arguments or defaults, no URL-default callbacks, unsorted
    parameters: ``url_for`` then gives the rule's path plus the query. Decided per app."""
    app = current_app
    known = app.extensions.setdefault("backoffice.plain_endpoints", {})
    if endpoint not in known:
        rules = list(app.url_map.iter_rules(endpoint)) if endpoint in app.view_functions else []
        blueprint = endpoint.rpartition(".")[0]
        known[endpoint] = (len(rules) == 1 and not rules[0].arguments and not rules[0].defaults
                           and not rules[0].build_only and not app.url_map.sort_parameters
                           and not app.url_default_functions.get(None)
                           and not any(app.url_default_functions.get(name) for name in _blueprints(blueprint)))
    return known[endpoint]


_REMEMBERED_MOST = 2048


def _remembered_url(known: dict, endpoint: str, kwargs: dict) -> str:
    """A URL with path arguments (the ~15 static files of every page): the same endpoint,
    arguments, blueprint, host, scheme and script root give the same URL, so it is built
    once per process (a bounded table) when no URL-default callback could change it."""
    app = current_app
    if app.url_default_functions or app.url_map.sort_parameters:
        return url_for(endpoint, **kwargs)
    try:
        key = (known[None], request.blueprint if endpoint[:1] == "." else None, endpoint, tuple(kwargs.items()))
        hash(key)
    except TypeError:  # a list argument: not remembered
        return url_for(endpoint, **kwargs)
    remembered = app.extensions.setdefault("backoffice.remembered_urls", {})
    url = remembered.get(key)
    if url is None:
        url = url_for(endpoint, **kwargs)
        if len(remembered) >= _REMEMBERED_MOST:
            remembered.clear()  # bounded: a crawler's odd arguments cannot grow a worker
        remembered[key] = url
    return url


def _blueprints(name: str) -> list[str]:
    # Nested blueprints: url defaults of "a" apply to "a.b" too.
    parts = name.split(".") if name else []
    return [".".join(parts[: i + 1]) for i in range(len(parts))]
