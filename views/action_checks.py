"""Checks of ``[views.<table>.actions.<name>]`` against the reflected schema (E040-E044).

Called by :class:`views.view_checker.ViewChecker` for every screen an entry applies to, so a
declared action is refused by ``backoffice check`` (and at start-up) exactly like any other
option: bad names and keys, columns it may not set, values that do not fit their column,
unknown roles, a confirmation threshold out of range.
"""
from __future__ import annotations

from typing import Any

from backoffice.core.declarations import did_you_mean

from views.declared_actions import NAME, NOW, NULL, convert, accepts_now
from views.options import ACTION_OPTIONS, ACTION_REASONS, ACTION_ROLES

__all__ = ["check_actions"]

_KEYS = {o.name: o.kind for o in ACTION_OPTIONS}
_TYPES = {"str": str, "int": int, "table": dict}


def check_actions(checker) -> None:
    """Add the problems of ``checker.spec["actions"]`` to ``checker`` (a ``_ViewChecker``)."""
    actions = checker.spec.get("actions")
    if not isinstance(actions, dict):
        return  # absent, or reported as E005 by the shape check
    for name, entry in actions.items():
        option = f"actions.{name}"
        if not NAME.match(name):
            checker.add("backoffice.E040", option, f"'{name}' is not a valid action name",
                        "lower case letters, digits and _, starting with a letter")
            continue
        if not isinstance(entry, dict):
            checker.add("backoffice.E040", option, "an action must be a table")
            continue
        if _shape(checker, option, entry):
            _roles(checker, option, entry)
            _set(checker, option, entry["set"])


def _shape(checker, option: str, entry: dict[str, Any]) -> bool:
    fine = True
    for key, value in entry.items():
        kind = _KEYS.get(key)
        if kind is None:
            checker.add("backoffice.E040", f"{option}.{key}", f"unknown action option '{key}'",
                        did_you_mean(key, _KEYS))
            fine = False
        elif not isinstance(value, _TYPES[kind]) or isinstance(value, bool):
            checker.add("backoffice.E040", f"{option}.{key}", f"expected {kind}, got {type(value).__name__} {value!r}")
            fine = False
    if not entry.get("set"):
        checker.add("backoffice.E040", f"{option}.set", "an action must set at least one column")
        fine = False
    if isinstance(entry.get("label"), str) and not entry["label"].strip():
        checker.add("backoffice.E040", f"{option}.label", "label must not be empty")
    return fine


def _roles(checker, option: str, entry: dict[str, Any]) -> None:
    role, reason = entry.get("role", "operator"), entry.get("reason", "optional")
    if role not in ACTION_ROLES:
        checker.add("backoffice.E043", f"{option}.role", f"unknown role '{role}'", did_you_mean(role, ACTION_ROLES))
    approval = entry.get("approval")
    if approval is not None and approval not in ACTION_ROLES:
        checker.add("backoffice.E043", f"{option}.approval", f"unknown role '{approval}'",
                    did_you_mean(approval, ACTION_ROLES))
    if reason not in ACTION_REASONS:
        checker.add("backoffice.E043", f"{option}.reason", f"unknown reason kind '{reason}'",
                    did_you_mean(reason, ACTION_REASONS))
    over = entry.get("confirm_over", 10)
    if not 0 <= over <= 1000:
        checker.add("backoffice.E044", f"{option}.confirm_over", f"must be between 0 and 1000, got {over}")
    if "confirm_text" in entry and not entry["confirm_text"].strip():
        checker.add("backoffice.E044", f"{option}.confirm_text", "confirm_text must not be empty")


def _set(checker, option: str, values: dict[str, Any]) -> None:
    read_only = checker.entry.read_only or checker.spec.get("read_only") is True
    for column, value in values.items():
        where = f"{option}.set.{column}"
        if not checker.column(where, column):
            continue
        if read_only:
            checker.add("backoffice.E041", where, f"'{checker.screen}' is read-only in the console; "
                        "an action cannot change it")
            continue
        if column in checker.entry.primary_key:
            checker.add("backoffice.E041", where, f"'{column}' is part of the primary key; an action cannot set it")
            continue
        target = checker.columns[column]
        if value == NOW:
            if not accepts_now(target):
                checker.add("backoffice.E042", where, f"now() fits date and time columns, not {target.type}")
        elif value == NULL:
            if not target.nullable:
                checker.add("backoffice.E042", where, f"'{column}' is NOT NULL; null() would be refused")
        elif isinstance(value, dict):
            if set(value) == {"ask"} and isinstance(value["ask"], str) and value["ask"].strip():
                try:
                    convert(target, "", typed=True)
                except ValueError as exc:
                    if "cannot set" in str(exc):
                        checker.add("backoffice.E042", where, str(exc))
            else:
                checker.add("backoffice.E042", where, f"expected {{ ask = \"prompt\" }}, got {value!r}")
        else:
            _literal(checker, where, target, value)


def _literal(checker, where: str, target, value: Any) -> None:
    try:
        convert(target, value, typed=False)
    except ValueError as exc:
        checker.add("backoffice.E042", where, str(exc))
