"""The few places where the console relies on another library's private names.

Everything here is a last resort: a public API does not exist for it (yet). Each
item is one small function or class with a docstring saying what it relies on and
why, and ``tests/test_internals.py`` has a test per item that fails loudly when an
upgrade changes it. Nothing else in the project may touch a library's ``_private`` name.
"""
from __future__ import annotations

from werkzeug.routing import Rule

__all__ = ["LazyBuildRule"]


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
