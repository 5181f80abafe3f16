"""The application factory. Nothing here is built at import time."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from sqlalchemy.exc import OperationalError

from . import auth, csrf, database, errors, health, requestlog, security
from .declarations import DeclarationError, check_all, load_declarations
from .settings import Settings, load_settings
from .standby import standby_app
from .startup import LazyBuildRule, collector_paused

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings | Mapping[str, str] | None = None) -> Flask:
    """Build one console.

    ``settings`` is a :class:`Settings`, a mapping read *instead of* the process
    environment (handy in tests), or None to read ``os.environ``. Raises
    :class:`~backoffice.settings.SettingsError` on bad configuration and
    :class:`~backoffice.declarations.DeclarationError` when the declarative file
    has errors (all problems at once). When the database is unreachable it
    returns a standby app that answers 503 and switches over once it answers.
    """
    if not isinstance(settings, Settings):
        settings = load_settings(settings)
    try:
        return _build(settings)
    except OperationalError as exc:
        return standby_app(settings, lambda: _build(settings), exc)


def _build(settings: Settings) -> Flask:
    with collector_paused():  # see backoffice/startup.py: a third of start-up on a big schema
        return _build_app(settings)


def _build_app(settings: Settings) -> Flask:
    app = Flask("backoffice", instance_path=str(Path.cwd() / "instance"))
    app.url_rule_class = LazyBuildRule  # URL builders compiled on first use (backoffice/startup.py)
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
    security.init_app(app, settings)
    auth.init_app(app, settings)  # before views and CSRF: 401 / 429 / 404 come first
    if settings.secret_key_generated:
        log.warning("SECRET_KEY is not set: generated one for this process; "
                    "CSRF tokens will not survive a restart or work across instances")
    errors.init_app(app)
    from views import safety

    safety.init_app(app)  # oversized and NUL-bearing input: a clear 4xx before any view
    health.init_app(app)
    csrf.init_app(app)
    db = database.init_app(app, settings)

    from audit_hooks import init_app as init_audit
    from models.reflection import reflect
    from views import init_app as init_views

    declarations = load_declarations(settings.config_path())
    with app.app_context():
        reflection = reflect(db.engine, schemas=settings.backoffice_schemas)
    app.extensions["backoffice.reflection"] = reflection
    app.extensions["backoffice.declarations"] = declarations
    problems = check_all(declarations, reflection)
    for found in problems:
        if not found.is_error:
            log.warning("%s", found)
    errors_found = [p for p in problems if p.is_error]
    if errors_found:
        raise DeclarationError(errors_found)
    init_audit(app, db, reflection, settings, declarations)
    init_views(app, db, reflection, settings)
    return app
