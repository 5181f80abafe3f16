"""Table screens built when first used: start-up does not grow with the schema's screens.

Building a generated screen is most of the work of building the console on a big schema
(column plans, Flask-Admin's form and filter scaffolding, mapper configuration): about
10 ms a screen, seconds at 500 tables, for screens most workers never open. So start-up
registers each screen *deferred*: the real view object, of its real (tuned) class, with
only what Flask-Admin's ``BaseView`` constructor sets (name, category, endpoint, URL:
enough for the menu, the blueprint and its URL rules) and what the role checks read
(the table, the screen, the read-only roles). Its construction is finished:

* when a request is routed to its blueprint, after the auth guard (so a refused request,
  answered 404, builds nothing) and before the view runs (``views/lazy.py``);
* or, whatever else reads it first (the jump box, a test), when an attribute only the
  full constructor sets is read: :meth:`DeferredScreen.attribute` is the class's
  ``__getattr__``, so a deferred screen behaves exactly like a built one.

Everything that decides whether a screen exists for an operator (``view_role``, the
``*_role`` attributes, ``is_accessible``) is a class attribute or set up front, so menus,
the dashboard and refusals never build a screen. The construction runs once per process
under a lock; the building thread's own look-ups during it raise AttributeError as they
would on a half-built object.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["DeferredScreen", "PENDING", "is_deferred", "build_all"]

#: The instance attribute holding a screen's pending construction (removed once built).
PENDING = "backoffice_pending_build"
#: What ``Admin.add_view`` set on the deferred object: the full constructor would reset them.
_REGISTERED = ("admin", "blueprint", "menu", "url", "static_url_path", "static_folder")


class DeferredScreen:
    """The pending construction of one screen: ``build()`` runs it once, thread-safely."""

    def __init__(self, view, construct: Callable[[], None]):
        self.view = view
        self.construct = construct
        self.lock = threading.RLock()
        self.building = False

    def build(self) -> None:
        with self.lock:  # re-entrant: the builder's own look-ups come back here
            if PENDING not in vars(self.view) or self.building:
                return
            self.building = True
            try:
                kept = {name: vars(self.view)[name] for name in _REGISTERED if name in vars(self.view)}
                self.construct()
                vars(self.view).update(kept)
                del vars(self.view)[PENDING]
            finally:
                self.building = False

    @staticmethod
    def attribute(view, name: str) -> Any:
        """``__getattr__`` of a screen: finish a deferred construction, then look again."""
        pending = vars(view).get(PENDING)
        if pending is None or name.startswith("__"):
            raise AttributeError(f"{type(view).__name__!r} object has no attribute {name!r}")
        pending.build()  # waits while another thread builds it
        if PENDING in vars(view):  # a look-up of the construction itself, or a failed one
            raise AttributeError(f"{type(view).__name__!r} object has no attribute {name!r}")
        return getattr(view, name)


def is_deferred(view) -> bool:
    """True while ``view``'s construction has not run yet."""
    return PENDING in vars(view)


def build_all(views) -> int:
    """Finish every deferred screen of ``views`` (a warm-up); returns how many were built."""
    built = 0
    for view in views:
        pending = vars(view).get(PENDING)
        if pending is not None:
            pending.build()
            built += 1
    return built
