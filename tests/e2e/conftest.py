"""Browser fixtures: Debian's Chromium driven by Playwright against a live console.

* Every test here is marked ``browser`` and ``slow`` (by tests/conftest.py).
* ``browser_type_launch_args`` points Playwright at the system Chromium (never a
  downloaded browser) and skips, or fails when ``BACKOFFICE_REQUIRE_BROWSER=1``,
  when there is none.
* ``live_server`` (one per test module) serves a fresh copy of the seeded demo
  catalog through a real threaded werkzeug server on 127.0.0.1, with basic auth on:
  an admin account from the environment and a users file holding an operator
  and a viewer.
* Every browser context a test opens is guarded: a request to any host other
  than the loopback one is aborted and fails the test (no CDN, no web fonts),
  and so do an uncaught JavaScript error and an asset the console fails to serve.
"""
from __future__ import annotations

import os
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from console.app import create_app

from tests.auth_helpers import write_users
from tests.services import require
from tests.e2e.support import ADMIN, LAPTOP, LOCAL_HOSTS, OPERATOR, VIEWER, Account

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("BACKOFFICE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args():
    path = require(chromium_path(), "Chromium (/usr/bin/chromium)", "BACKOFFICE_REQUIRE_BROWSER",
                   "apt-get install chromium")
    return {"executable_path": path, "headless": True, "args": CHROMIUM_ARGS}


@dataclass
class LiveServer:
    """A console served over real HTTP on loopback."""

    url: str
    database_url: str
    app: object
    accounts: dict[str, Account] = field(default_factory=dict)

    def __call__(self, path: str = "/") -> str:
        return self.url + path


def _users_file(path: Path) -> Path:
    return write_users(path, {a.username: (a.role, a.password) for a in (OPERATOR, VIEWER)})


class _QuietHandler(WSGIRequestHandler):
    """The console logs each request itself; werkzeug's access lines would double them."""

    def log_request(self, code="-", size="-"):
        pass


def serve(app) -> tuple[str, callable]:
    """Serve ``app`` on an ephemeral loopback port in a daemon thread; return (url, stop)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-console", daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture(scope="module")
def console_env() -> dict[str, str]:
    """Extra settings of the module's console; a test module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def console_database(request, tmp_path_factory) -> str:
    """The module's own copy of the seeded demo catalog: SQLite, or PostgreSQL for a module
    that sets ``CONSOLE_DATABASE = "postgresql"``."""
    if getattr(request.module, "CONSOLE_DATABASE", "sqlite") == "postgresql":
        server = request.getfixturevalue("pg_server")
        template = request.getfixturevalue("pg_demo_template")[0]
        name = f"e2e_{uuid.uuid4().hex[:12]}"
        yield server.create_database(name, template=template)
        server.drop_database(name)
        return
    database = tmp_path_factory.mktemp("live-db") / "demo.sqlite"
    shutil.copyfile(request.getfixturevalue("sqlite_demo_template")[0], database)
    yield f"sqlite:///{database}"


@pytest.fixture(scope="module")
def live_server(console_database, tmp_path_factory, console_env):
    """The demo console with basic auth on, one per test module."""
    workdir = tmp_path_factory.mktemp("live")
    database_url = console_database
    app = create_app({
        "DATABASE_URL": database_url,
        "SECRET_KEY": "browser-test-secret",
        "LOG_LEVEL": "WARNING",
        "OPERATOR_AUTH_USERNAME": ADMIN.username,
        "OPERATOR_AUTH_PASSWORD": ADMIN.password,
        "OPERATOR_AUTH_USERS_FILE": str(_users_file(workdir / "users")),
        **console_env,
    })
    url, stop = serve(app)
    yield LiveServer(url, database_url, app, {a.role: a for a in (ADMIN, OPERATOR, VIEWER)})
    stop()
    with app.app_context():
        app.extensions["backoffice.db"].engine.dispose()


@pytest.fixture(scope="module")
def browser_context_args(live_server):
    """Options of every context; who signs in is chosen per context (see ``context``)."""
    return {"base_url": live_server.url, "viewport": LAPTOP,
            "timezone_id": "UTC", "locale": "en-GB", "accept_downloads": True}


@pytest.fixture
def offsite_requests():
    """Requests that tried to leave the machine, and JavaScript errors; must stay empty."""
    problems: list[str] = []
    yield problems
    assert not problems, "the console tried to leave the machine or broke in the browser:\n" + "\n".join(problems)


def _guard(context, problems: list[str]) -> None:
    def route(route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            problems.append(f"request to another host: {route.request.method} {url}")
            route.abort()
        else:
            route.continue_()

    def response(response):
        # A stylesheet, script, font or image the page needs but the console fails to serve.
        if response.status >= 400 and response.request.resource_type in ("stylesheet", "script", "font", "image"):
            problems.append(f"asset not served: {response.status} {response.url}")

    context.route("**/*", route)
    context.on("response", response)
    context.on("weberror", lambda error: problems.append(f"JavaScript error: {error.error}"))


@pytest.fixture
def new_context(new_context, offsite_requests):
    """pytest-playwright's context factory, each context guarded (see :func:`_guard`)."""
    def make(**kwargs):
        context = new_context(**kwargs)
        _guard(context, offsite_requests)
        return context

    return make


@pytest.fixture
def context(new_context):
    """The ``page`` fixture's context: the admin, credentials sent up front.

    A test acting as someone else opens ``new_context(extra_http_headers=VIEWER.headers)``
    or, to go through the prompt, ``new_context(http_credentials=...)``.
    """
    return new_context(extra_http_headers=ADMIN.headers)


@pytest.fixture(autouse=True)
def _always_guarded(offsite_requests):
    """Autouse so that even a test that opens no browser checks its (empty) list."""
    return offsite_requests
