"""What keeps start-up quick on a big schema (500 tables: thousands of URL rules and objects).

Two costs grew with the schema without doing anything useful at start-up:

- **URL builders.** Werkzeug compiles, for every URL rule, two small Python
  functions that build its URLs (``url_for``), generating and compiling source code
  at ``add_url_rule`` time. A screen has about ten rules, so 500 tables mean 10,000
  compilations, most of them for URLs no request will ever build (export, ajax,
  action...). :class:`LazyBuildRule` compiles a rule's builder the first time a URL
  is built from it; matching requests never needed it.
- **The cyclic garbage collector.** Building thousands of mappers, tables, forms
  and rules allocates millions of objects that all stay alive; the collector keeps
  scanning the growing heap and finds nothing to free (about a third of
  ``create_app()`` at 500 tables). :func:`collector_paused` holds it off while the
  app is built and runs one collection at the end, so what start-up threw away is
  freed before workers are forked (gunicorn's ``pre_fork`` then freezes the rest).
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.routing import Rule

__all__ = ["LazyBuildRule", "collector_paused"]


class LazyBuildRule(Rule):
    """A Werkzeug rule whose URL builders are compiled on first use (``Flask.url_rule_class``).

    Werkzeug calls ``_compile_builder`` twice from ``Rule.compile`` (with and without
    appending unknown arguments as a query string) and keeps the results as
    ``_build`` / ``_build_unknown``. Overriding that one hook is the narrowest way to
    defer the work: matching, endpoints and the built URLs are Werkzeug's own. Should
    a Werkzeug release rename the hook, this override is simply never called and rules
    compile eagerly again (slower start-up, same behaviour); a test notices.

    Thread safety: two threads building the same rule's first URL at once may both
    compile it; both results are identical and the later assignment wins.
    """

    def _compile_builder(self, append_unknown: bool = True):
        compile_now = super()._compile_builder
        compiled = None

        def build(rule, **values):
            nonlocal compiled
            if compiled is None:
                compiled = compile_now(append_unknown)
            return compiled(rule, **values)

        return build


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off for the block, then collect once.

    Reference counting still frees everything that is not in a cycle. The collector
    is re-enabled only if it was enabled before (so nesting, or a caller who disabled
    it on purpose, is respected), and the final ``gc.collect()`` leaves no more garbage
    behind than the collector running throughout would have.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect()
