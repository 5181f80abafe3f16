"""What a missing service means in a test: skip with the reason, or fail where it is required.

CI (.ci/run) sets BACKOFFICE_REQUIRE_POSTGRES, BACKOFFICE_REQUIRE_REDIS and
BACKOFFICE_REQUIRE_BROWSER to 1, so that a service that failed to install fails the
run instead of quietly skipping the tests that need it.
"""
from __future__ import annotations

import os
from typing import TypeVar

import pytest

__all__ = ["require"]

T = TypeVar("T")


def require(found: T | None, what: str, variable: str, install: str) -> T:
    """``found`` when it is not None; else skip, or fail when ``variable`` is 1."""
    if found is None:
        if os.environ.get(variable) == "1":
            pytest.fail(f"{variable}=1 but {what} was not found on this machine ({install})")
        pytest.skip(f"{what} is not installed on this machine ({install}; CI sets {variable}=1)")
    return found
