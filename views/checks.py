"""Checks of the ``[views.<table>]`` entries against the reflected schema: which tables an
entry (or a ``"payment_p*"`` pattern) applies to, the custom screens' claims, and the
``[views.*]`` rules. One entry against one table is :class:`views.view_checker.ViewChecker`;
all problems are reported at once.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from functools import partial
from typing import Any

from backoffice.core.declarations import Declarations, Problem, Rules, did_you_mean, problem
from views.base import ReflectedModelView
from views.custom import discover
from views.options import VIEW_OPTIONS, VIEW_PROBLEM_IDS
from views.safeguards import merge_reasons
from views.view_checker import ViewChecker, is_pattern

__all__ = ["register_rules", "check_views", "is_pattern", "effective_views"]


def effective_views(views: dict[str, Any], screens) -> dict[str, dict[str, Any]]:
    """Screen -> its options: matching pattern entries in file order, then its own entry on top."""
    result: dict[str, dict[str, Any]] = {}
    patterns = [(k, v) for k, v in views.items() if is_pattern(k) and isinstance(v, dict)]
    for screen in screens:
        spec: dict[str, Any] = {}
        for key, entry in patterns:
            if fnmatch.fnmatchcase(screen, key):
                spec.update(entry, reason=merge_reasons(spec.get("reason"), entry.get("reason")))
        if isinstance(views.get(screen), dict):
            own = views[screen]
            spec.update(own, reason=merge_reasons(spec.get("reason"), own.get("reason")))
        if spec.get("reason") is None:
            spec.pop("reason", None)
        if spec:
            result[screen] = spec
    return result


def _custom_problems(declarations: Declarations, reflection, custom: list[tuple[str, type]]) -> Iterator[Problem]:
    claimed: dict[str, type] = {}
    for table, cls in custom:
        option = f"{cls.__module__}.{cls.__qualname__}.table"
        if table not in reflection.tables:
            yield problem("backoffice.E035", declarations, option, f"'{table}' is not a table or view",
                          table=table, hint=did_you_mean(table, reflection.tables))
        elif table in claimed:
            other = claimed[table]
            yield problem("backoffice.E036", declarations, option, f"'{table}' is already claimed by "
                          f"{other.__module__}.{other.__qualname__}", table=table)
        else:
            claimed[table] = cls


def check_views(declarations: Declarations, reflection, custom_modules: tuple[str, ...] = ()) -> Iterator[Problem]:
    """Every ``[views.*]`` entry and every custom view class (``views/custom/`` and
    ``custom_modules``) against ``reflection``."""
    custom = discover(custom_modules)
    yield from _custom_problems(declarations, reflection, custom)
    classes = dict(reversed(custom))  # the first class claiming a table wins, as in the registration
    for key, spec in declarations.views.items():
        if not isinstance(spec, dict):
            continue  # reported as E003 by the shape check
        if is_pattern(key):
            matched = [s for s in reflection.tables if fnmatch.fnmatchcase(s, key)]
            if not matched:
                yield problem("backoffice.E010", declarations, f'views."{key}"',
                              f"'{key}' matches no table or view of the database", table=key)
        else:
            matched = [key] if key in reflection.tables else []
            if not matched:
                yield problem("backoffice.E010", declarations, f"views.{key}",
                              f"'{key}' is not a table or view of the database", table=key,
                              hint=did_you_mean(key, reflection.tables))
        seen: set[str] = set()
        for screen in matched:  # a pattern's options are checked against every table it matches
            checker = ViewChecker(declarations, key, screen, spec, reflection.tables[screen],
                                   classes.get(screen, ReflectedModelView))
            for found in checker.run():
                if str(found) not in seen:
                    seen.add(str(found))
                    yield found


def register_rules(rules: Rules, custom_modules: tuple[str, ...] = ()) -> None:
    """The ``[views.*]`` section: its options, problem ids E010-E036 / W010-W015 and the screen
    checks (custom screens of ``views/custom/`` and of ``custom_modules``, BACKOFFICE_CUSTOM_VIEWS)."""
    rules.declare_ids(VIEW_PROBLEM_IDS)
    rules.declare_options("views", *VIEW_OPTIONS)
    if custom_modules:
        rules.add_check(partial(check_views, custom_modules=tuple(custom_modules)))
    else:
        rules.add_check(check_views)
