"""What keeps start-up quick on a big schema (500 tables: thousands of URL rules and objects).

Two costs grew with the schema without doing anything useful at start-up:

- **URL builders.** Werkzeug compiles, for every URL rule, two small Python
  functions that build its URLs (``url_for``), generating and compiling source code
  at ``add_url_rule`` time. A screen has about ten rules, so 500 tables mean 10,000
  compilations, most of them for URLs no request will ever build (export, ajax,
  action...). :class:`~backoffice.core.internals.LazyBuildRule` compiles a rule's builder the first
  time a URL is built from it; matching requests never needed it. It overrides a
  Werkzeug private hook, so it lives in ``backoffice/core/internals.py``.
- **The cyclic garbage collector.** Building thousands of mappers, tables and rules
  allocates hundreds of thousands of objects that all stay alive; the collector keeps
  scanning the growing heap and finds nothing to free (about a third of
  ``create_app()`` at 500 tables). :func:`collector_paused` holds it off while the
  app is built. At the end, one more full collection would scan everything again
  (0.5 s of CPU at 500 tables) to find a few dozen cycles: instead the objects of the
  block are moved, unscanned, to the oldest generation (``gc.freeze()`` then
  ``gc.unfreeze()``), where the next full collection frees whatever start-up threw
  away. gunicorn's ``pre_fork`` then freezes the rest for the workers.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from backoffice.core.internals import LazyBuildRule

__all__ = ["LazyBuildRule", "collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off for the block, then hand what it allocated
    to the oldest generation without scanning it.

    Reference counting still frees everything that is not in a cycle; cycles the block
    dropped are freed by the next full collection. The collector is re-enabled only if
    it was enabled before (so nesting, or a caller who disabled it on purpose, is
    respected). When objects were already frozen (a console built inside a forked
    worker, after gunicorn's ``pre_fork``), they must stay frozen: the block's objects
    are then collected at once, as a full collection would.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count():
                gc.collect()
            else:
                gc.freeze()  # the objects of every generation, unscanned ...
                gc.unfreeze()  # ... now in the oldest one: scanned at the next full collection only
            gc.enable()
