"""Table screens built when first used: start-up does not grow with the schema's screens.

Building a generated screen is most of the work of building the console on a big schema
(column plans, Flask-Admin's form and filter scaffolding, mapper configuration): about
10 ms a screen, seconds at 500 tables, for screens most workers never open. So start-up
registers each screen *deferred* (``views/lazy.py``): the view object itself, with only
what Flask-Admin's ``BaseView`` constructor sets (name, category, endpoint, URL: enough
for the menu, the blueprint and its URL rules) and what the role checks read (the table,
the screen, the read-only roles).

Until it is built, the object's class is a stand-in: a subclass of its real (tuned) class,
same name, whose ``__getattribute__`` answers the names in :data:`UP_FRONT` (menu,
blueprint, role checks) and finishes the construction on any other read, then answers
from the built screen. So a class-level option (``column_list``, ``column_default_sort``)
is never read before the constructor had its say, whoever reads it. The construction:

* runs when a request is routed to the screen's blueprint, after the auth guard (a refused
  request, answered 404, builds nothing) and before the view runs (``views/lazy.py``);
* or on the first read of any other attribute, from anywhere (the jump box, a test);
* runs once per process, under a lock: another thread's read waits for it; the building
  thread's own reads go straight to the object (a missing attribute is missing, as on a
  half-built object). Once built, the object's class is its real class again: a built
  screen pays nothing for having been deferred.
"""
from __future__ import annotations

import inspect
import threading
import weakref
from collections.abc import Callable
from types import FunctionType

from backoffice.core.internals import VIEW_CLASS_BOOKKEEPING
from backoffice.web.startup import collector_paused

__all__ = ["DeferredScreen", "PENDING", "UP_FRONT", "defer", "built", "is_deferred", "build_all"]

#: The instance attribute holding a screen's pending construction (removed once built).
PENDING = "backoffice_pending_build"
#: What ``Admin.add_view`` set on the deferred object: the full constructor would reset them.
_REGISTERED = ("admin", "blueprint", "menu", "url", "static_url_path", "static_folder")
#: Read without building: what registration, the menu and the role checks (guard, access
#: part) use, and what other pages ask every screen with a default while its constructor
#: never sets it (the declarative file sets them as class attributes: ``approval``,
#: ``revert``...; ``_allow_<x>`` holds ``can_<x> = False``, views/access.py). Methods are
#: answered too (the constructor sets data, never methods): a method's own reads of the
#: screen's data then build it. ``tests/test_startup_lazy.py`` checks that a built screen
#: holds no other value for any of these than the deferred one answered.
UP_FRONT = frozenset({
    PENDING, *_REGISTERED, *VIEW_CLASS_BOOKKEEPING, "name", "category", "endpoint", "menu_class_name",
    "menu_icon_type", "menu_icon_value", "entry", "screen", "view_role", "create_role", "edit_role", "delete_role",
    "export_role", "can_create", "can_edit", "can_delete", "can_export", "_allow_create", "_allow_edit",
    "_allow_delete", "_allow_export", "approval", "approval_hours", "queue", "runner", "revert", "revert_role",
    "declared_actions", "never_show", "reasons", "confirm_delete", "confirm_delete_seconds", "_ENDPOINT_PERMISSIONS",
    "prefix_urls",  # the menu's links: get_url (views/reading.py) asks it of every screen
})


class DeferredScreen:
    """The pending construction of one screen: ``build()`` runs it once, thread-safely."""

    def __init__(self, view, real_class: type, construct: Callable[[], None]):
        self.view = view
        self.real_class = real_class
        self.construct = construct
        self.lock = threading.Lock()
        self.builder: int | None = None

    def build(self) -> None:
        with self.lock:  # a second thread waits here for the first one's build
            state = object.__getattribute__(self.view, "__dict__")
            if PENDING not in state:
                return
            self.builder = threading.get_ident()
            try:
                kept = {name: state[name] for name in _REGISTERED if name in state}
                # Start-up work done late: thousands of objects that all stay alive. Without
                # the pause they trigger collections that scan the whole heap, inside a request.
                with collector_paused():
                    self.construct()
                state.update(kept)
                del state[PENDING]
                self.view.__class__ = self.real_class  # from now on: an ordinary screen
            finally:
                self.builder = None


def _is_method(cls: type, name: str) -> bool:
    methods = cls.backoffice_methods  # the stand-in's own cache: name -> is a method
    if name not in methods:
        methods[name] = isinstance(inspect.getattr_static(cls, name, None), (FunctionType, staticmethod, classmethod))
    return methods[name]


def _deferred_getattribute(view, name: str):
    """``__getattribute__`` of the stand-in class (see the module docstring)."""
    if name in UP_FRONT or (name.startswith("__") and name.endswith("__")):
        return object.__getattribute__(view, name)
    state = object.__getattribute__(view, "__dict__")
    pending = state.get(PENDING)
    if pending is None or pending.builder == threading.get_ident() or _is_method(type(view), name):
        return object.__getattribute__(view, name)
    pending.build()
    return getattr(view, name)


_STAND_INS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _stand_in(real_class: type) -> type:
    """The stand-in subclass of ``real_class`` (one per class). Made with ``type.__new__``
    so Flask-Admin's metaclass does not scan it again: its exposed methods, URL list and
    default view are the real class's, inherited."""
    found = _STAND_INS.get(real_class)
    if found is None:
        found = type.__new__(type(real_class), real_class.__name__, (real_class,), {
            "__getattribute__": _deferred_getattribute, "__module__": real_class.__module__,
            "__qualname__": real_class.__qualname__, "__doc__": real_class.__doc__, "backoffice_methods": {}})
        _STAND_INS[real_class] = found
    return found


def defer(view, construct: Callable[[], None]) -> None:
    """Make ``view`` (a set-up-front object of its real class) deferred: ``construct()``
    finishes it on first use."""
    real_class = type(view)
    vars(view)[PENDING] = DeferredScreen(view, real_class, construct)
    view.__class__ = _stand_in(real_class)


def built(view):
    """``view``, its construction finished (a warm-up; reads do it by themselves)."""
    pending = object.__getattribute__(view, "__dict__").get(PENDING)
    if pending is not None:
        pending.build()
    return view


def is_deferred(view) -> bool:
    """True while ``view``'s construction has not run yet."""
    return PENDING in object.__getattribute__(view, "__dict__")


def build_all(views) -> int:
    """Finish every deferred screen of ``views``; returns how many were built."""
    built_now = 0
    for view in views:
        if is_deferred(view):
            built(view)
            built_now += 1
    return built_now
