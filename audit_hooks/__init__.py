"""The audit hook pipeline that runs inside the transaction, before commit."""

# TEMPORARY until the audit pipeline lands: names the change set of a custom action.
from contextlib import contextmanager


@contextmanager
def audit_action(action: str, reason: str | None = None):
    yield
