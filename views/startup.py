"""Per-screen start-up work that only depends on the screen's class, done once per class.

Flask-Admin's ``ActionsMixin.init_actions`` (a documented hook: "call init_actions in
your constructor") finds the ``@action`` methods by walking ``dir(self)`` and, for
each of the ~280 names, the instance and its whole MRO. At 500 tables that is
140,000 lookups and about 0.3 s of ``create_app()``, repeated for every screen of the
same class. ``ReflectedModelView.init_actions`` (``views/base.py``) overrides the hook:
which class attributes are actions is computed once per class (:func:`class_action_names`),
the instance's own attributes are still looked at every time, and the result
(stored through ``backoffice.core.internals.set_actions``) is exactly Flask-Admin's, in the same order.
"""
from __future__ import annotations

from weakref import WeakKeyDictionary

from backoffice.core.internals import action_declaration

__all__ = ["class_action_names"]

# Weak keys: screen classes made per app (views/tuning.py) go away with their app.
_ACTION_NAMES: WeakKeyDictionary[type, frozenset[str]] = WeakKeyDictionary()


def class_action_names(cls: type) -> frozenset[str]:
    """Names whose class-level value (first in the MRO, as Flask-Admin resolves it) is an ``@action``."""
    names = _ACTION_NAMES.get(cls)
    if names is None:
        found = set()
        for name in dir(cls):
            for klass in cls.__mro__:
                if name in vars(klass):
                    if action_declaration(vars(klass)[name]):
                        found.add(name)
                    break
        names = _ACTION_NAMES[cls] = frozenset(found)
    return names
