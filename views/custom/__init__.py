"""Hand-written screens: the escape hatch when the declarative file is not enough.

Drop a module in this package with a subclass of
:class:`~views.base.ReflectedModelView` naming its table::

    class MovieView(ReflectedModelView):
        table = "movies"
        column_formatters = {...}     # anything Flask-Admin offers

It replaces the generated screen of ``movies`` (found automatically, no registration)
and the file's ``[views.movies]`` options are still applied on top of it.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil

__all__ = ["discover"]


def discover(package: str = __name__) -> list[tuple[str, type]]:
    """(table, class) for every ReflectedModelView subclass with a ``table`` defined in
    a module of ``package``, in module order. Duplicates are kept: the checks report them."""
    from views.base import ReflectedModelView

    root = importlib.import_module(package)
    found: list[tuple[str, type]] = []
    for info in sorted(pkgutil.iter_modules(root.__path__, root.__name__ + "."), key=lambda m: m.name):
        module = importlib.import_module(info.name)
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            if (obj.__module__ == module.__name__ and issubclass(obj, ReflectedModelView)
                    and isinstance(getattr(obj, "table", None), str)):
                found.append((obj.table, obj))
    return found
