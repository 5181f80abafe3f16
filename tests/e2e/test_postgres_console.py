"""The key write flows again, with the console on PostgreSQL (row locks, audit chain,
timestamptz values that must survive an edit form unchanged)."""
from __future__ import annotations

import pytest

from tests.e2e.test_catalog_screens import (  # noqa: F401  (collected here too, on PostgreSQL)
    test_dashboard_lists_every_table_with_its_count,
    test_invalid_edit_shows_the_error_at_the_field_and_keeps_what_was_typed,
)
from tests.e2e.test_review_flows import (  # noqa: F401
    test_apply_one_review_with_its_confirmation,
    test_bulk_reject_with_a_reason,
)

CONSOLE_DATABASE = "postgresql"
pytestmark = pytest.mark.postgres
