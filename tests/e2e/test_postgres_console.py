"""The key write flows again, with the console on PostgreSQL (row locks, audit chain)."""
from __future__ import annotations

import pytest

from .test_catalog_screens import test_dashboard_lists_every_table_with_its_count  # noqa: F401
from .test_catalog_screens import test_invalid_edit_shows_the_error_at_the_field_and_keeps_what_was_typed as _edit
from .test_review_flows import (  # noqa: F401  (collected here too, on PostgreSQL)
    test_apply_one_review_with_its_confirmation,
    test_bulk_reject_with_a_reason,
)

CONSOLE_DATABASE = "postgresql"
pytestmark = pytest.mark.postgres


@pytest.mark.xfail(strict=True, reason=(
    "timestamptz columns round-trip through the edit form as naive datetimes, so every save on "
    "PostgreSQL rewrites created_at/updated_at and reports them changed (reported; remove this "
    "mark when the form keeps them aware)"))
def test_invalid_edit_then_fix_on_postgresql(page, live_server):
    _edit(page, live_server)
