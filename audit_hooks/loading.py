"""Extra hooks named by dotted path, from settings and the declarative file.

``package.module:name`` (or ``package.module.name``) may name a plain function
(registered as an ``audit_changeset`` hook), a function marked with ``@hookimpl``
(``specname=`` picks the hook point), or a module / class / object whose
``@hookimpl`` methods are registered as they are. ``package.module`` alone
registers the module's marked functions.
"""
from __future__ import annotations

import importlib
import inspect
from types import SimpleNamespace
from typing import Any

from backoffice.core.declarations import Option, Rules, did_you_mean, problem

from audit_hooks.hookspecs import PROJECT, AuditSpecs

__all__ = ["HookLoadError", "load_hook", "SPEC_NAMES", "register_rules"]

SPEC_NAMES = tuple(name for name in vars(AuditSpecs) if name.startswith("audit_"))
_MARK = PROJECT + "_impl"

HOOK_PROBLEM_IDS = {
    "backoffice.E090": "an audit hook's dotted path cannot be imported (module or attribute missing)",
    "backoffice.E091": "an audit hook's dotted path names something that is not an audit hook",
}
HOOK_OPTIONS = (Option(
    "audit", "str-list",
    "Extra audit hooks, dotted paths 'package.module:function', run inside every write's transaction "
    "(added to those of BACKOFFICE_AUDIT_HOOKS)",
    default=[], example='["audit_hooks.examples:require_delete_reason", "audit_hooks.examples:log_changeset"]'),)


class HookLoadError(ValueError):
    """A dotted path that does not give an audit hook; ``id`` is its problem id."""

    def __init__(self, id: str, message: str, hint: str | None = None):
        self.id, self.message, self.hint = id, message, hint
        super().__init__(message + (f"; {hint}" if hint else ""))


def _import(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    if not attr:
        try:
            return importlib.import_module(path)
        except ImportError:
            module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise HookLoadError("backoffice.E090", f"cannot import '{path}': not a dotted path",
                            "write it as 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HookLoadError("backoffice.E090", f"cannot import '{path}': {exc}",
                            "write it as 'package.module:function' and check the package is installed") from None
    except Exception as exc:  # the module itself fails while importing
        raise HookLoadError("backoffice.E090", f"cannot import '{path}': {type(exc).__name__}: {exc}") from None
    if not hasattr(module, attr):
        public = [name for name in dir(module) if not name.startswith("_")]
        raise HookLoadError("backoffice.E090", f"cannot import '{path}': module '{module_name}' has no "
                            f"attribute '{attr}'", did_you_mean(attr, public))
    return getattr(module, attr)


def _marked(obj: Any) -> bool:
    return any(hasattr(getattr(obj, name, None), _MARK) for name in dir(obj) if not name.startswith("_"))


def load_hook(path: str) -> Any:
    """Import ``path`` and return a plugin object pluggy can register."""
    obj = _import(path.strip())
    if inspect.isfunction(obj) and hasattr(obj, _MARK):
        return SimpleNamespace(**{obj.__name__: obj})
    if inspect.isfunction(obj):
        parameters = list(inspect.signature(obj).parameters)
        if parameters != ["changeset"]:
            raise HookLoadError("backoffice.E091", f"'{path}' is a function of ({', '.join(parameters)}), "
                                "not an audit hook", "an audit hook takes exactly one argument: changeset")

        def audit_changeset(changeset):
            return obj(changeset)

        from audit_hooks.hookspecs import hookimpl

        return SimpleNamespace(audit_changeset=hookimpl(audit_changeset))
    if (inspect.ismodule(obj) or inspect.isclass(obj) or not callable(obj)) and _marked(obj):
        return obj() if inspect.isclass(obj) else obj
    raise HookLoadError("backoffice.E091", f"'{path}' is a {type(obj).__name__}, not an audit hook",
                        "name a function taking (changeset), or an object with @hookimpl methods ("
                        + ", ".join(SPEC_NAMES) + ")")


def check_hook_paths(declarations, _reflection):
    """Every ``[hooks] audit`` entry must import and be a hook."""
    paths = declarations.hooks.get("audit") if isinstance(declarations.hooks, dict) else None
    if not isinstance(paths, list):
        return
    for index, path in enumerate(paths):
        if not isinstance(path, str):
            continue
        try:
            load_hook(path)
        except HookLoadError as exc:
            yield problem(exc.id, declarations, f"hooks.audit[{index}]", exc.message, hint=exc.hint)


def register_rules(rules: Rules) -> None:
    """The ``[hooks]`` section: its option, its problem ids and the check of every dotted path."""
    rules.declare_ids(HOOK_PROBLEM_IDS)
    rules.declare_options("hooks", *HOOK_OPTIONS)
    rules.add_check(check_hook_paths)
