"""A small table's counted page query, built once per process for each page, order and size.

On a screen without search or filters, Flask-Admin builds the same page query on every
request (``get_list(execute=False)``: the model's query, the sort with its joins, the
offset and limit), and the console adds the exact count as a scalar subquery
(``views/reading.py``). Building it costs about as much as running it on a small table.
:func:`counted_page_query` keeps the built query, detached from any session, per screen and
(page, sort column, descending, page size); a request runs it in its own session
(``Query.with_session``). The kept queries are dropped when the screen's columns are
rebuilt (``_refresh_cache``), the default order is part of the key, and at most
:data:`MOST` are kept per screen. A screen
whose class overrides how Flask-Admin builds the query (``get_query``, ``get_count_query``,
the sorting or pagination steps) builds it on every request, as before.
"""
from __future__ import annotations

from backoffice.core.internals import list_configuration, page_query_is_flask_admins

__all__ = ["counted_page_query", "MOST"]

#: Kept page queries per screen before the table is emptied.
MOST = 256


def _keepable(cls: type) -> bool:
    known = cls.__dict__.get("_backoffice_page_query_keepable")
    if known is None:
        known = page_query_is_flask_admins(cls)
        setattr(cls, "_backoffice_page_query_keepable", known)
    return known


def counted_page_query(view, build, page, sort_column, sort_desc, page_size):
    """``build()`` (the page's Query with its count column), kept detached per screen and
    arguments when the screen builds it as Flask-Admin does; the caller attaches a session."""
    if not _keepable(type(view)):
        return build()
    # What Flask-Admin's _refresh_cache rebuilds (the columns and their sort expressions) ...
    built_from = list_configuration(view)
    kept = view.__dict__.get("_backoffice_page_queries")
    if kept is None or kept[0][0] is not built_from[0] or kept[0][1] is not built_from[1]:
        kept = view.__dict__["_backoffice_page_queries"] = (built_from, {})
    queries = kept[1]
    # ... and what get_list reads on every call (the default order).
    key = (page, sort_column, bool(sort_desc), page_size, repr(view.column_default_sort))
    query = queries.get(key)
    if query is None:
        query = build().with_session(None)
        if len(queries) >= MOST:
            queries.clear()
        queries[key] = query
    return query
