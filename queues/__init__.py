"""Review queues: a declared table of proposals worked by apply / reject / defer actions.

``spec`` reads ``[queues.*]`` (and the built-in TMDB queue) into :class:`QueueSpec`,
``checks`` checks it against the schema; ``runner`` performs an action on chosen rows, one
audited transaction per row; ``effects`` holds the effects an action may name;
``ownership`` makes the columns a queue decides read-only everywhere else. The
screen (``views/review_queue.py``) only speaks HTTP.
"""
from queues.checks import register_rules
from queues.ownership import OwnershipGuard, owned_columns
from queues.runner import ActionRefused, Outcome, QueueRunner
from queues.spec import ActionSpec, Change, QueueSpec, queue_specs

__all__ = ["ActionRefused", "ActionSpec", "Change", "Outcome", "QueueRunner", "QueueSpec", "queue_specs",
           "register_rules", "owned_columns", "OwnershipGuard", "init_app"]


def init_app(app, audit_manager, declarations, reflection) -> None:
    """Register the ownership guard with the audit hooks: only queue actions change what queues own."""
    queues = queue_specs(declarations, reflection)
    if queues:
        audit_manager.register(OwnershipGuard(queues, reflection), name="queues.ownership")
    app.extensions["backoffice.queues.owned"] = owned_columns(queues, reflection)
