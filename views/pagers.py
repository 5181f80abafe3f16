"""Flask-Admin's two list pagers (bootstrap4 ``admin/lib.html``: ``pager`` and
``simple_pager``) written in Python: the same HTML without importing the macro library
into every list page. ``tests/test_list_template.py`` compares them with the macros.
"""
from __future__ import annotations

from markupsafe import Markup, escape

__all__ = ["init_app", "pager", "simple_pager"]


def init_app(app) -> None:
    app.add_template_global(pager, "backoffice_pager")
    app.add_template_global(simple_pager, "backoffice_simple_pager")


def _item(url, text, state: str = "") -> str:
    return f'<li class="page-item{state}"><a class="page-link" href="{escape(url)}">{text}</a></li>'


_NOWHERE = "javascript:void(0)"


def pager(page: int, pages: int, generator) -> Markup:
    """``lib.pager(page, pages, generator)``: up to seven numbered pages around ``page``."""
    if pages <= 1:
        return Markup("")
    low, high = page - 3, page + 3 + 1
    if low < 0:
        high -= low
    if high >= pages:
        low = low - high + pages
    low, high = max(low, 0), min(high, pages)
    out = ['<ul class="pagination">']
    out.append(_item(generator(0), "&laquo;") if low > 0 else _item(_NOWHERE, "&laquo;", " disabled"))
    out.append(_item(generator(page - 1), "&lt;") if page > 0 else _item(_NOWHERE, "&lt;", " disabled"))
    for number in range(low, high):
        out.append(_item(_NOWHERE, number + 1, " active") if number == page
                   else _item(generator(number), number + 1))
    out.append(_item(generator(page + 1), "&gt;") if page + 1 < pages else _item(_NOWHERE, "&gt;", " disabled"))
    out.append(_item(generator(pages - 1), "&raquo;") if high < pages else _item(_NOWHERE, "&raquo;", " disabled"))
    out.append("</ul>")
    return Markup("".join(out))


def simple_pager(page: int, have_next: bool, generator) -> Markup:
    """``lib.simple_pager(page, have_next, generator)``: previous and next only."""
    out = ['<ul class="pagination">']
    out.append(_item(generator(page - 1), "&lt;") if page > 0 else _item(generator(0), "&lt;", " disabled"))
    out.append(_item(generator(page + 1), "&gt;") if have_next else _item(generator(page), "&gt;", " disabled"))
    out.append("</ul>")
    return Markup("".join(out))
