"""``backoffice serve --reload``: the console rebuilt when the declarative file changes.

Development only (production serving is ``wsgi:app``, unchanged). :class:`ReloadingConsole`
is a WSGI application holding the current console; before each request it looks at the
declarative file's modification time and size, and when they changed it builds a new console
from the file. A file that builds replaces the console; a file with errors keeps the previous
console serving, logs every problem once, and every HTML page carries a banner listing the
problems until the file is fixed. One gunicorn worker runs it (each worker would reload on
its own), so the check is a ``stat`` per request, under a lock only when the file changed.
"""
from __future__ import annotations

import html
import logging
import os
import threading
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Response

from backoffice.core.declarations import DeclarationError
from backoffice.core.settings import SettingsError, load_settings
from console.app import create_app

__all__ = ["ReloadingConsole", "BANNER_CLASS", "application"]

log = logging.getLogger("backoffice.reload")
BANNER_CLASS = "declarations-reload-problems"


class ReloadingConsole:
    """The console, rebuilt from the declarative file whenever the file changes."""

    def __init__(self, environ: dict[str, str] | None = None):
        self.environ = dict(os.environ if environ is None else environ)
        self.path: Path | None = load_settings(self.environ).config_path()
        self.lock = threading.Lock()
        self.stamp = self._stamp()
        self.app = create_app(self.environ)  # a broken file at start-up stops, as without --reload
        self.problems: list[str] = []

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat() if self.path else None
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size) if stat else None

    def refresh(self) -> None:
        """Rebuild when the file changed since the last look (kept as is otherwise)."""
        if self._stamp() == self.stamp:
            return
        with self.lock:
            stamp = self._stamp()
            if stamp == self.stamp:
                return
            self.stamp = stamp
            try:
                self.app = create_app(self.environ)
            except (DeclarationError, SettingsError) as exc:
                found = [str(p) for p in getattr(exc, "problems", [])] or [str(exc)]
                self.problems = found
                log.error("the declarative file has errors; the previous screens keep serving until it is "
                          "fixed:\n  %s", "\n  ".join(found))
                return
            if self.problems:
                log.warning("the declarative file is fixed; screens rebuilt")
            else:
                log.info("declarative file changed; screens rebuilt")
            self.problems = []

    def __call__(self, environ: dict[str, Any], start_response):
        self.refresh()
        app, problems = self.app, self.problems
        if not problems:
            return app(environ, start_response)
        response = Response.from_app(app, environ)
        if response.mimetype == "text/html":
            items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            banner = (f'<div class="alert alert-danger {BANNER_CLASS}" role="alert"><strong>The declarative '
                      f"file has errors; these screens are from its last good version.</strong><ul>{items}</ul></div>")
            body = response.get_data(as_text=True)
            at = body.find(">", body.find("<body")) + 1 if "<body" in body else 0
            response.set_data(body[:at] + banner + body[at:])
        return response(environ, start_response)


_console: ReloadingConsole | None = None
_first = threading.Lock()


def application(environ, start_response):
    """gunicorn's entry point for ``serve --reload`` (``console.reloading:application``)."""
    global _console
    if _console is None:
        with _first:
            if _console is None:
                _console = ReloadingConsole()
    return _console(environ, start_response)
