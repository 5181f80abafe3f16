"""The composition root: builds one console from its subsystems. Nothing imports
``console/`` but ``wsgi.py``, the benchmarks and the tests; nothing here is built at
import time.

Layers, from the ground up (each imports only what stands below it):

* ``models/``: the reflected schema and the console's own tables (imports nothing of ours);
* ``backoffice/``: ``core/`` (settings, roles and the current operator, declarations
  and problem ids, the engine factory, library internals; imports nothing of ours),
  then the subsystems ``web/`` (request log, error pages, headers, CSRF, health),
  ``auth/``, ``catalog/`` (catalog health) and ``demo/``;
* ``audit_hooks/``: the write pipeline;
* ``queues/``: review queues (spec, checks, runner, effects), written through the hooks;
* ``views/``: the screens and pages;
* ``console/``: this file, ``cli.py``, ``database.py``, ``gunicorn_conf.py``; and ``wsgi.py``.
"""
from __future__ import annotations

import dataclasses
import logging
import types
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path

from flask import Flask
from sqlalchemy.exc import OperationalError

import audit_hooks
import queues
import views
import views.safety
from backoffice import catalog, metrics, replica
from backoffice.auth import guard
from backoffice.core.declarations import DeclarationError, Rules, check_all, load_declarations
from backoffice.core.settings import Settings, load_settings
from backoffice.demo import DEMO_DECLARATIONS
from backoffice.web import capacity, csrf, dbguard, envelope, errors, health, requestlog, secret, security
from backoffice.web.standby import standby_app
from backoffice.web.startup import LazyBuildRule, collector_paused
from console import database
from models.reflection import reflect
from queues.spec import queue_specs

__all__ = ["create_app", "console_rules"]

log = logging.getLogger(__name__)


@cache
def console_rules(custom_views: tuple[str, ...] = ()) -> Rules:
    """What the declarative file may hold: each subsystem adds its section, in this order.
    ``custom_views`` are the custom screen modules of BACKOFFICE_CUSTOM_VIEWS (checked too)."""
    rules = Rules()
    views.register_rules(rules, custom_views)
    catalog.register_rules(rules)
    queues.register_rules(rules)
    audit_hooks.register_rules(rules)
    return rules


def create_app(settings: Settings | Mapping[str, str] | None = None) -> Flask:
    """Build one console.

    ``settings`` is a :class:`Settings`, a mapping read *instead of* the process
    environment (handy in tests), or None to read ``os.environ``. Raises
    :class:`~backoffice.core.settings.SettingsError` on bad configuration and
    :class:`~backoffice.core.declarations.DeclarationError` when the declarative file
    has errors (all problems at once). When the database is unreachable it
    returns a standby app that answers 503 and switches over once it answers.
    """
    if not isinstance(settings, Settings):
        settings = load_settings(settings)
    if not settings.secret_key:  # one key for every worker, kept in the instance folder
        settings = dataclasses.replace(settings, secret_key=secret.resolve_secret_key(settings, _instance_path()))
    try:
        return _build(settings)
    except OperationalError as exc:
        return standby_app(settings, lambda: _build(settings), exc)


def _instance_path() -> Path:
    return Path.cwd() / "instance"


def _build(settings: Settings) -> Flask:
    with collector_paused():  # see backoffice/web/startup.py: a third of start-up on a big schema
        return _build_app(settings)


def _build_app(settings: Settings) -> Flask:
    app = Flask("backoffice", instance_path=str(_instance_path()))
    app.url_rule_class = LazyBuildRule  # URL builders compiled on first use (backoffice/web/startup.py)
    # Jinja's default template cache is an LRU whose every hit scans its queue (a list page
    # looks up ~16 templates); the console's templates are a fixed set: a dict keeps them all.
    app.jinja_options = {**app.jinja_options, "cache_size": -1}
    app.config.update(
        SECRET_KEY=settings.secret_key,
        BACKOFFICE_SETTINGS=settings,
        WTF_CSRF_TIME_LIMIT=None,  # tokens are bound to the signing key; pages stay open all day
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    requestlog.init_app(app, settings)
    capacity.init_app(app)  # a full worker answers 503 at once, before any sign-in work
    security.init_app(app, settings)
    guard.init_app(app, settings)  # before views and CSRF: 401 / 429 / 404 come first
    errors.init_app(app)
    views.safety.init_app(app)  # oversized and NUL-bearing input: a clear 4xx before any view
    health.init_app(app)
    csrf.init_app(app)
    db = database.init_app(app, settings)
    dbguard.init_app(app, db, settings)  # bounded database waits, one retry for reads, safe teardown

    rules = console_rules(settings.backoffice_custom_views)
    config = settings.config_path()
    if config is None and settings.database_url is None:
        config = DEMO_DECLARATIONS  # the embedded demo catalog is served as its file tunes it
    declarations = load_declarations(config)
    with app.app_context():
        reflection = reflect(db.engine, schemas=settings.backoffice_schemas)
    app.extensions["backoffice.reflection"] = reflection
    app.extensions["backoffice.declarations"] = declarations
    app.extensions["backoffice.rules"] = rules
    problems = check_all(declarations, reflection, rules)
    for found in problems:
        if not found.is_error:
            log.warning("%s", found)
    errors_found = [p for p in problems if p.is_error]
    if errors_found:
        raise DeclarationError(errors_found)
    audit_manager = audit_hooks.init_app(app, db, reflection, settings, declarations)
    queues.init_app(app, audit_manager, declarations, reflection)
    with app.app_context():
        engine = db.engine
    router = replica.init_app(app, engine, settings)  # before the views: catalog health reads through it
    views.init_app(app, db, reflection, settings)
    counters = metrics.init_app(app, settings, engine, router=router,
                                queues=[(q.name, reflection.tables[q.table].table, q.status)
                                        for q in queue_specs(declarations, reflection)],
                                latest_health=catalog.catalog_health(app).latest)
    _on_commit(audit_manager, counters.count_committed, "backoffice.metrics")
    envelope.wrap(app)  # last: the outermost layer (headers, request id and log line on every response)
    return app


def _on_commit(manager, count: Callable, name: str) -> None:
    """Register ``count(changeset)`` as an ``audit_committed`` hook. The metrics stand below
    the audit pipeline and cannot import its marker, so the root joins the two."""
    @audit_hooks.hookimpl(specname="audit_committed")
    def committed(changeset):
        count(changeset)

    manager.register(types.SimpleNamespace(committed=committed), name=name)
