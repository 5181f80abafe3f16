"""Reasons and typed delete confirmations a screen can require (``[views.<table>]``).

``reason = { create = "required", edit = "required", delete = "required", bulk = "required",
export = "optional" }`` says, per kind of write, whether the operator must give a reason;
``[views."*"]`` holds the console-wide default (a screen's own keys win, key by key).
Every path checks it on the server: the create / edit form (``views/forms.py``), inline
edit and deletes (``views/writes.py``), declared bulk actions (their default reason,
``views/declared_actions.py``) and exports (``views/export.py``); reverts always need one
(``audit_hooks/revert.py``). The reason is stored on the audit row of the change.

``confirm_delete = "label" | "key"`` makes deleting a row ask the operator to type the row's
label (its label columns, else its key) or key; several rows at once: their number. The
confirmation page carries a token signed (itsdangerous) over the exact row ids it shows,
valid ``confirm_delete_seconds`` (default 600); the POST is checked against it.

This module holds the policy and the token; the parts that own the hooks call it.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from backoffice.core.declarations import did_you_mean

__all__ = ["REASON_KINDS", "REASON_LEVELS", "CONFIRM_KINDS", "CONFIRM_SECONDS", "reason_required", "missing_reason", "sign_selection", "selection_refusal", "expected_typed",
           "typed_prompt", "check_safeguards", "merge_reasons"]

#: The writes a reason can be required for.
REASON_KINDS = ("create", "edit", "delete", "bulk", "export")
#: What the file may say about each.
REASON_LEVELS = ("required", "optional")
#: What the operator types to confirm a delete.
CONFIRM_KINDS = ("label", "key")
#: How long a delete confirmation page stays valid, unless declared.
CONFIRM_SECONDS = 600

_VERBS = {"create": "create rows", "edit": "edit rows", "delete": "delete rows", "bulk": "run this action",
          "export": "export rows"}

def merge_reasons(default: Any, own: Any) -> Any:
    """The ``reason`` table of a screen over the console-wide one, key by key."""
    if own is None:
        return default
    if isinstance(default, dict) and isinstance(own, dict):
        return {**default, **own}
    return own


def reason_required(view, kind: str) -> bool:
    """Whether ``view`` requires a reason for ``kind`` (one of :data:`REASON_KINDS`)."""
    return (getattr(view, "reasons", None) or {}).get(kind) == "required"


def missing_reason(view, kind: str) -> str:
    """The refusal when a required reason is missing."""
    return f"A reason is required to {_VERBS[kind]} of {view.name}; nothing was changed. Give one and try again."


def _serializer(view) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"delete-confirmation:{view.endpoint}")


def sign_selection(view, ids: list[str]) -> str:
    """A token bound to exactly these row ids (in this order) of this screen."""
    return _serializer(view).dumps({"ids": [str(i) for i in ids]})


def selection_refusal(view, token: str | None, ids: list[str]) -> str | None:
    """Why ``token`` does not confirm deleting ``ids`` now, or None when it does."""
    if not token:
        return "The confirmation is missing; nothing was deleted. Confirm on this page."
    try:
        bound = _serializer(view).loads(token, max_age=getattr(view, "confirm_delete_seconds", CONFIRM_SECONDS))
    except SignatureExpired:
        return "The confirmation expired; nothing was deleted. Check the rows below and confirm again."
    except BadSignature:
        return "The confirmation is not valid for this screen; nothing was deleted. Confirm on this page."
    if not isinstance(bound, dict) or bound.get("ids") != [str(i) for i in ids]:
        return "The confirmation was given for other rows; nothing was deleted. Check the rows below."
    return None


def _key(view, model) -> str:
    pk = view.get_pk_value(model)
    return ",".join(map(str, pk)) if isinstance(pk, tuple) else str(pk)


def expected_typed(view, models: list[Any]) -> str:
    """What the operator must type: the row count for several rows, else its label or key."""
    if len(models) != 1:
        return str(len(models))
    model = models[0]
    if view.confirm_delete == "label":
        keys = getattr(model, "__label_keys__", ())
        text = " ".join(str(v).strip() for k in keys if (v := getattr(model, k, None)) is not None).strip()
        if text:
            return text
    return _key(view, model)


def typed_prompt(view, models: list[Any]) -> str:
    """The instruction shown above the typed confirmation input."""
    if len(models) != 1:
        return f"Type the number of rows ({len(models)}) to confirm."
    return f"Type {expected_typed(view, models)} to confirm."


def check_safeguards(checker) -> None:
    """Problems of ``reason``, ``confirm_delete`` and ``confirm_delete_seconds`` of one entry
    (``checker`` is :class:`views.checks._ViewChecker`; wrong value types are E005 already)."""
    spec = checker.spec
    reasons = spec.get("reason")
    if isinstance(reasons, dict):
        for kind, level in reasons.items():
            if kind not in REASON_KINDS:
                checker.add("backoffice.E045", f"reason.{kind}", f"unknown kind of write '{kind}'",
                            did_you_mean(kind, REASON_KINDS))
            elif level not in REASON_LEVELS:
                checker.add("backoffice.E045", f"reason.{kind}", f"unknown level {level!r}",
                            did_you_mean(str(level), REASON_LEVELS))
    confirm = spec.get("confirm_delete")
    if isinstance(confirm, str) and confirm not in CONFIRM_KINDS:
        checker.add("backoffice.E046", "confirm_delete", f"unknown confirmation '{confirm}'",
                    did_you_mean(confirm, CONFIRM_KINDS))
    seconds = spec.get("confirm_delete_seconds")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and not 30 <= seconds <= 86400:
        checker.add("backoffice.E047", "confirm_delete_seconds", f"must be between 30 and 86400, got {seconds}")

