"""Review queues: a declared table of proposals worked by apply / reject / defer actions.

``spec`` reads ``[queues.*]`` (and the built-in TMDB queue) into :class:`QueueSpec`
and checks it against the schema; ``runner`` performs an action on chosen rows, one
audited transaction per row; ``effects`` holds the effects an action may name. The
screen (``views/review_queue.py``) only speaks HTTP.
"""
from queues.runner import ActionRefused, Outcome, QueueRunner
from queues.spec import ActionSpec, Change, QueueSpec, queue_specs, register_rules

__all__ = ["ActionRefused", "ActionSpec", "Change", "Outcome", "QueueRunner", "QueueSpec", "queue_specs",
           "register_rules"]
