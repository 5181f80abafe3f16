"""Role enforcement for screens: hidden when not allowed, and 404 when asked anyway.

* :class:`RoleGuardMixin` for any Flask-Admin ``BaseView`` (review queue, audit
  screen, ...): ``view_role`` decides whether the page exists for an operator;
  single pages can ask for more with :func:`require_role`.
* :class:`AccessPart`, the access part of every generated table screen
  (``views/base.py``): ``create_role``, ``edit_role``,
  ``delete_role`` and ``export_role`` drive ``can_create`` / ``can_edit`` /
  ``can_delete`` / ``can_export`` (so buttons and menu entries disappear) and
  every endpoint behind them.

A forbidden screen, action or POST answers 404, exactly like a page that does not
exist: the auth guard calls :meth:`RoleGuardMixin.refuses_request` before CSRF
and the view run; ``before_view`` (Flask-Admin's per-request gate, through
``backoffice/core/internals.py``) repeats the check in case a view is ever reached
another way.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request

from backoffice.core.access import current_operator
from backoffice.core.internals import BeforeViewHook, action_handler

__all__ = ["RoleGuardMixin", "AccessPart", "require_role", "required_role_of"]

F = TypeVar("F", bound=Callable[..., Any])
_ROLE_ATTRIBUTE = "_backoffice_required_role"


def require_role(role: str | None) -> Callable[[F], F]:
    """Mark an ``@expose``-d page or an ``@action`` as needing at least ``role``.

    Use it under ``@expose`` (or ``@action``)::

        @expose("/apply/", methods=("POST",))
        @require_role("operator")
        def apply(self): ...

    An operator below ``role`` gets 404 (``None`` or "nobody": everybody does).
    """

    def decorate(fn: F) -> F:
        @wraps(fn)
        def guarded(*args, **kwargs):
            if not current_operator().may(role):
                abort(404)
            return fn(*args, **kwargs)

        setattr(guarded, _ROLE_ATTRIBUTE, role)
        return guarded  # type: ignore[return-value]

    return decorate


def required_role_of(fn: Any, default: str | None) -> str | None:
    """The role :func:`require_role` put on ``fn`` (a function or bound method), else ``default``."""
    return getattr(fn, _ROLE_ATTRIBUTE, default)


class RoleGuardMixin(BeforeViewHook):
    """Put before ``BaseView`` in the bases: the page exists only for ``view_role`` and up."""

    #: Least role that may see this page at all (``None`` or "nobody": no one).
    view_role: str | None = "viewer"

    def is_accessible(self) -> bool:
        # Flask-Admin hides menu entries (and empty categories) of inaccessible views.
        return current_operator().may(self.view_role) and super().is_accessible()  # type: ignore[misc]

    def inaccessible_callback(self, name, **kwargs):
        abort(404)

    def required_role(self, method_name: str) -> str | None:
        """The role an exposed method needs: its :func:`require_role`, else ``view_role``."""
        return required_role_of(getattr(type(self), method_name, None), self.view_role)

    def refuses_request(self, method_name: str) -> bool:
        """True when the current operator may not call the exposed method ``method_name``."""
        operator = current_operator()
        return not operator.may(self.view_role) or not operator.may(self.required_role(method_name))

    def before_view(self, name: str):
        if self.refuses_request(name):
            abort(404)
        return super().before_view(name)


def _permission(flag: str, role_attribute: str) -> property:
    """``can_<x>``: the view allows it at all (settable, as in Flask-Admin) AND the role may."""
    stored = "_allow_" + flag

    def get(self) -> bool:
        return bool(getattr(self, stored, True)) and current_operator().may(getattr(self, role_attribute))

    def set_(self, value: bool) -> None:
        setattr(self, stored, bool(value))

    return property(get, set_, doc=f"True when the current operator may {flag} (see ``{role_attribute}``).")


class AccessPart(RoleGuardMixin):
    """Part of :class:`~views.base.ReflectedModelView` (any ``ModelView`` may use it): the
    ``*_role`` attributes become the permissions. Owns ``is_accessible``,
    ``inaccessible_callback``, ``before_view``, ``is_action_allowed`` and ``can_*``."""

    create_role: str | None = "admin"
    edit_role: str | None = "operator"
    delete_role: str | None = "admin"
    export_role: str | None = "viewer"

    can_create = _permission("create", "create_role")
    can_edit = _permission("edit", "edit_role")
    can_delete = _permission("delete", "delete_role")
    can_export = _permission("export", "export_role")

    #: Flask-Admin's model endpoints and the permission each needs.
    _ENDPOINT_PERMISSIONS = {
        "create_view": "can_create",
        "edit_view": "can_edit",
        "ajax_update": "can_edit",
        "delete_view": "can_delete",
        "bulk_delete_view": "can_delete",  # the bulk delete's confirmation page (views/audited.py)
        "export": "can_export",
    }

    def __init_subclass__(cls, **kwargs):
        # A subclass writing ``can_edit = False`` (Flask-Admin style) would replace the
        # property and drop the role check; keep it as the "allowed at all" switch instead.
        super().__init_subclass__(**kwargs)
        for flag in ("create", "edit", "delete", "export"):
            value = cls.__dict__.get("can_" + flag)
            if isinstance(value, bool):
                setattr(cls, "_allow_" + flag, value)
                setattr(cls, "can_" + flag, _permission(flag, flag + "_role"))

    def refuses_request(self, method_name: str) -> bool:
        if super().refuses_request(method_name):
            return True
        permission = self._ENDPOINT_PERMISSIONS.get(method_name)
        if permission is not None:
            return not getattr(self, permission)
        if method_name == "declared_action_execute":
            # Declared row actions (views/declared_actions.py): absent for an operator who may run none.
            operator = current_operator()
            return not any(operator.may(a.role) for a in getattr(self, "declared_actions", {}).values())
        if method_name == "action_view" and request.method == "POST":
            # An action this operator may not run, or none at all: the endpoint does not exist for them.
            name = request.form.get("action", "")
            return action_handler(self, name) is None or not self.is_action_allowed(name)
        return False

    def is_action_allowed(self, name: str) -> bool:
        """``delete`` follows ``delete_role``; other actions their :func:`require_role`, else ``edit_role``."""
        if name == "delete":
            return self.can_delete and super().is_action_allowed(name)  # type: ignore[misc]
        handler = action_handler(self, name)
        needed = required_role_of(handler, self.edit_role)
        return current_operator().may(needed) and super().is_action_allowed(name)  # type: ignore[misc]
