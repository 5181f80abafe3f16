"""Per-screen start-up work that only depends on the screen's class, done once per class.

Flask-Admin's ``ActionsMixin.init_actions`` (a documented hook: "call init_actions in
your constructor") finds the ``@action`` methods by walking ``dir(self)`` and, for
each of the ~280 names, the instance and its whole MRO. At 500 tables that is
140,000 lookups and about 0.3 s of ``create_app()``, repeated for every screen of the
same class. :class:`ClassActionsMixin` overrides the hook: which class attributes are
actions is computed once per class, the instance's own attributes are still looked
at every time, and the result (``_actions``, ``_actions_data``) is exactly
Flask-Admin's, in the same order.
"""
from __future__ import annotations

from weakref import WeakKeyDictionary

from flask_admin import tools

__all__ = ["ClassActionsMixin", "class_action_names"]

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
                    if hasattr(vars(klass)[name], "_action"):
                        found.add(name)
                    break
        names = _ACTION_NAMES[cls] = frozenset(found)
    return names


class ClassActionsMixin:
    """``init_actions`` with the class scan cached (see the module docstring)."""

    def init_actions(self) -> None:
        own = vars(self)
        names = {name for name in class_action_names(type(self)) if name not in own}
        names.update(name for name, value in own.items() if hasattr(value, "_action"))
        self._actions = []
        self._actions_data = {}
        for name in sorted(names):  # dir() order, as Flask-Admin iterates
            action_name, text, desc = tools.get_dict_attr(self, name)._action
            self._actions.append((action_name, text))
            self._actions_data[action_name] = (getattr(self, name), text, desc)
