"""Helpers shared by the auth tests: credentials headers and users files."""
from __future__ import annotations

import base64
from pathlib import Path

from werkzeug.security import generate_password_hash

__all__ = ["basic", "write_users", "FAST_HASH", "ADMIN", "ENV"]

#: Cheap hashes keep the suite fast; one test checks the default (scrypt) separately.
FAST_HASH = "pbkdf2:sha256:1000"
ADMIN = ("ann", "correct horse battery staple")
#: The environment of a console with one admin account and a small failure limit.
ENV = {"OPERATOR_AUTH_USERNAME": ADMIN[0], "OPERATOR_AUTH_PASSWORD": ADMIN[1]}


def basic(username: str, password: str) -> dict[str, str]:
    raw = f"{username}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def write_users(path: Path, users: dict[str, tuple[str, str]]) -> Path:
    """``users``: username -> (role, password). Returns the file written."""
    lines = ["# operators of the test console"]
    for name, (role, password) in users.items():
        lines.append(f"{name}:{role}:{generate_password_hash(password, method=FAST_HASH)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
