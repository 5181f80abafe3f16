"""Backoffice: a low-code operator console generated from an existing SQL schema."""
from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):
    # Loaded on first use: ``backoffice.benchapps`` (plain Flask-Admin for the benchmark)
    # and the command line must not pay for the whole console's imports.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
