"""The generated screen is built from explicit parts, and no two of them override the same
Flask-Admin hook: what a screen does must not depend on the order of its bases."""
from __future__ import annotations

import inspect

from flask_admin.contrib.sqla import ModelView

from views.base import PARTS, ReflectedModelView

# Class bookkeeping, not behaviour.
_NOT_HOOKS = {"__module__", "__doc__", "__dict__", "__weakref__", "__qualname__", "__annotations__",
              "__firstlineno__", "__static_attributes__", "__orig_bases__", "__parameters__"}
_FLASK_ADMIN = set(dir(ModelView))


def _unwrapped(value):
    # Flask-Admin's metaclass stores a wrapper of every exposed view in each view class it
    # creates: that is Flask-Admin's bookkeeping, not a definition of the class.
    return value.__wrapped__ if getattr(value, "_wrapped", False) and hasattr(value, "__wrapped__") else value


def defines(klass: type, name: str) -> bool:
    """Whether ``klass`` itself defines ``name`` (not a metaclass copy of an inherited one)."""
    value = _unwrapped(vars(klass)[name])
    inherited = next((vars(k)[name] for k in klass.__mro__[1:] if name in vars(k)), None)
    return inherited is None or _unwrapped(inherited) is not value


def hook_owners(classes) -> dict[str, list[str]]:
    """Flask-Admin attribute -> every class (of ``classes`` and their own bases, up to
    Flask-Admin's) that defines it in its own ``__dict__``."""
    owners: dict[str, list[str]] = {}
    for cls in classes:
        for klass in cls.__mro__:
            if klass is object or klass in ModelView.__mro__:
                continue
            for name in vars(klass):
                if name in _FLASK_ADMIN and name not in _NOT_HOOKS and defines(klass, name):
                    owners.setdefault(name, [])
                    if klass.__qualname__ not in owners[name]:
                        owners[name].append(klass.__qualname__)
    return owners


def shared_hooks(classes) -> dict[str, list[str]]:
    return {name: found for name, found in hook_owners(classes).items() if len(found) > 1}


def test_the_screen_is_its_parts_and_flask_admins_model_view():
    assert ReflectedModelView.__bases__ == (*PARTS, ModelView)


def test_no_two_parts_override_the_same_flask_admin_hook():
    assert shared_hooks([*PARTS, ReflectedModelView]) == {}


def test_each_part_owns_hooks_and_the_screen_itself_only_its_constructor_and_action_scan():
    owners = hook_owners(PARTS)
    by_part = {part.__name__: sorted(n for n, found in owners.items()
                                     if {k.__qualname__ for k in part.__mro__} & set(found))
               for part in PARTS}
    assert all(by_part.values()), by_part  # a part without a hook is no part
    own = sorted(n for n in vars(ReflectedModelView) if n in _FLASK_ADMIN and n not in _NOT_HOOKS
                 and inspect.isfunction(vars(ReflectedModelView)[n]) and defines(ReflectedModelView, n))
    assert own == ["__init__", "init_actions"]
    assert "get_list" in by_part["ReadingPart"] and "update_model" in by_part["WritesPart"]
    assert "get_edit_form" in by_part["FormsPart"] and "is_accessible" in by_part["AccessPart"]


def test_the_check_catches_two_parts_on_one_hook():
    class Counting:
        def get_list(self, *args, **kwargs):
            return super().get_list(*args, **kwargs)

    class Paging:
        def get_list(self, *args, **kwargs):
            return super().get_list(*args, **kwargs)

    assert shared_hooks([Counting, Paging]) == {"get_list": ["test_the_check_catches_two_parts_on_one_hook."
                                                             "<locals>.Counting",
                                                             "test_the_check_catches_two_parts_on_one_hook."
                                                             "<locals>.Paging"]}
    # a shared hook hidden in a part's own helper base counts too
    class Helper(Counting):
        pass

    assert "get_list" in shared_hooks([Helper, *PARTS])
