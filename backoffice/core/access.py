"""Who is acting, and what their role allows. Filled in by the auth guard."""
from __future__ import annotations

from dataclasses import dataclass

from flask import g, has_request_context

__all__ = ["ROLES", "Operator", "current_operator", "role_allows", "LOCAL_OPERATOR", "SYSTEM_OPERATOR"]

#: Roles in increasing power; each includes what the ones before it may do.
ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True)
class Operator:
    """The person (or process) behind a request."""

    username: str
    role: str

    def may(self, needed: str | None) -> bool:
        """True when this operator's role is at least ``needed`` (None: nobody may)."""
        return role_allows(self.role, needed)


#: The operator of an unauthenticated local-development console (auth is off).
LOCAL_OPERATOR = Operator("local", "admin")
#: The actor of command-line work (seed, init-db) outside a request.
SYSTEM_OPERATOR = Operator("system", "admin")


def role_allows(role: str, needed: str | None) -> bool:
    """``needed`` None or "nobody" means no role at all may do it."""
    if needed in (None, "nobody") or role not in ROLES or needed not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def current_operator() -> Operator:
    """The operator of the current request; the system operator outside one."""
    if not has_request_context():
        return SYSTEM_OPERATOR
    return g.get("operator") or LOCAL_OPERATOR
