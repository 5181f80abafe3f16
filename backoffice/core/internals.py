"""The few places where the console relies on another library's private names.

Everything here is a last resort: a public API does not exist for it (yet). Each
item is one small function with a docstring saying what it relies on and why, and
``tests/test_internals.py`` has a test per item that fails loudly when an upgrade
changes it. Nothing else in the project may touch a library's ``_private`` name.
"""
from __future__ import annotations

__all__: list[str] = []
