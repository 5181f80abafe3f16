"""Hand-written screens: the escape hatch when the declarative file is not enough.

Write a subclass of :class:`~views.base.ReflectedModelView` naming its table::

    class MovieView(ReflectedModelView):
        table = "movies"
        column_formatters = {...}     # anything Flask-Admin offers

and put its module either in this package (found automatically) or anywhere on the
Python path, named in ``BACKOFFICE_CUSTOM_VIEWS`` (dotted module paths, comma
separated; a package there brings its modules too). It replaces the generated screen
of ``movies``, and the file's ``[views.movies]`` options are still applied on top of it.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterable
from types import ModuleType

from backoffice.core.settings import SettingsError

from views.base import ReflectedModelView

__all__ = ["discover", "SETTING"]

#: The setting naming custom screen modules outside this package.
SETTING = "BACKOFFICE_CUSTOM_VIEWS"


def discover(modules: Iterable[str] = ()) -> list[tuple[str, type]]:
    """(table, class) for every ReflectedModelView subclass with a ``table``: first those of
    this package's modules (in name order), then those of each module in ``modules`` (a
    package: itself, then its modules in name order). Duplicates are kept: the checks
    report them, and the first claim wins. A module of ``modules`` that cannot be imported
    raises :class:`~backoffice.core.settings.SettingsError` naming the setting."""
    found: list[tuple[str, type]] = []
    package = importlib.import_module(__name__)
    for module in _submodules(package):
        found.extend(_screens_in(module))
    for path in modules:
        module = _import(path)
        for each in (module, *_submodules(module)):
            found.extend(_screens_in(each))
    return found


def _import(path: str) -> ModuleType:
    try:
        return importlib.import_module(path)
    except Exception as exc:  # missing, or failing while it runs: either way the setting is wrong
        raise SettingsError([f"{SETTING}: cannot import '{path}': {type(exc).__name__}: {exc}"]) from None


def _submodules(package: ModuleType) -> list[ModuleType]:
    if not hasattr(package, "__path__"):
        return []
    infos = sorted(pkgutil.iter_modules(package.__path__, package.__name__ + "."), key=lambda m: m.name)
    return [importlib.import_module(info.name) for info in infos]


def _screens_in(module: ModuleType) -> list[tuple[str, type]]:
    return [(obj.table, obj) for _name, obj in inspect.getmembers(module, inspect.isclass)
            if obj.__module__ == module.__name__ and issubclass(obj, ReflectedModelView)
            and isinstance(getattr(obj, "table", None), str)]
