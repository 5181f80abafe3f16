"""The sidebar of a page rendered once per process for each menu a page can show.

The console's ``master.html`` renders the menu with its ``side_menu`` macro: for every
entry a permission check, a URL and a few lines of HTML, the same for every request of
the same role on the same screen. :func:`cached_sidebar` still asks every entry whether
it is accessible and visible on this request (so a view whose permission depends on
anything, not only the role, is honoured), and reuses the HTML rendered for the same
answers, the same screen and the same script root; a menu entry added, removed or
renamed makes another key. The table of renderings is bounded: it is emptied when it
reaches :data:`MAX_RENDERINGS` entries (a deployment has a handful of roles and screens).
"""
from __future__ import annotations

from weakref import WeakKeyDictionary

from flask import request
from markupsafe import Markup

__all__ = ["cached_sidebar", "menu_fingerprint", "MAX_RENDERINGS"]

#: Distinct (screen, menu answers, script root) renderings kept per process.
MAX_RENDERINGS = 1024

# Per Admin instance (an app built again never meets the renderings of an earlier one).
_renderings: WeakKeyDictionary = WeakKeyDictionary()


def menu_fingerprint(items) -> tuple:
    """What the ``side_menu`` macro's output depends on besides the screen: each entry's
    identity and name, and for a category the entries it shows (accessible and visible),
    for a leaf whether it is shown; asked exactly as the macro asks."""
    key = []
    for item in items:
        if item.is_category():
            key.append((id(item), item.name, menu_fingerprint(item.get_children())))
        else:
            key.append((id(item), item.name, bool(item.is_accessible() and item.is_visible())))
    return tuple(key)


def cached_sidebar(view, side_menu) -> Markup:
    """``side_menu(view.admin.menu())`` for ``view``'s page, rendered once per distinct menu."""
    admin = view.admin
    items = admin.menu()
    key = (id(view), request.script_root, menu_fingerprint(items))
    renderings = _renderings.get(admin)
    if renderings is None:
        renderings = _renderings[admin] = {}
    html = renderings.get(key)
    if html is None:
        html = Markup(side_menu(items))
        if len(renderings) >= MAX_RENDERINGS:
            renderings.clear()
        renderings[key] = html
    return html
