"""Register the table screens deferred (``views/deferral.py`` says why and how they are
finished): same classes, options, order and menu as :func:`views.tuning.build_screens`.
"""
from __future__ import annotations

import weakref
from collections.abc import Iterator

from flask import Flask, request
from jinja2 import TemplateNotFound, meta
from flask_admin import BaseView
from sqlalchemy.orm import configure_mappers

from views.base import ReflectedModelView
from views.deferral import built, defer, is_deferred
from views.names import endpoint_for, screen_url
from views.tuning import finish, plan_screens, tuned_class

__all__ = ["deferred_screens", "init_app", "warm_up", "EXTENSION"]

#: ``app.extensions`` key: the deferred screens, and those to build before serving.
EXTENSION = "backoffice.deferred_screens"

#: Deferred screens carrying the maintainer's code or options (built by :func:`warm_up`).
_WARM: weakref.WeakSet = weakref.WeakSet()


def _deferred(view_class: type, entry, screen: str, db, kwargs: dict, spec: dict):
    view = view_class.__new__(view_class)
    # A plain string: a reflected name is SQLAlchemy's quoted_name, whose attribute lookups
    # (markupsafe asks every value for __html__) are slow on each page that shows it.
    screen = str(screen)

    def construct() -> None:
        view_class.__init__(view, entry, screen, db, **kwargs)
        finish(view, spec)

    BaseView.__init__(view, name=kwargs.get("name", screen), category=kwargs.get("category", "Schema"),
                      endpoint=endpoint_for(screen), url=screen_url(screen))
    view.entry, view.screen = entry, screen
    if entry.read_only:  # as the constructor does: these decide menus and refusals up front
        view.can_create = view.can_edit = view.can_delete = False
        view.create_role = view.edit_role = view.delete_role = None
    defer(view, construct)
    # A screen carrying the maintainer's code or options is built before serving (warm_up):
    # an error in it stops the server's start instead of waiting for its first request.
    if view_class is not ReflectedModelView or spec:
        _WARM.add(view)
    return view


def deferred_screens(reflection, declarations, db, custom: list[tuple[str, type]],
                     owned: dict[str, dict[str, str]] | None = None) -> Iterator:
    """:func:`views.tuning.build_screens`, each screen deferred (same classes, order, options)."""
    for planned in plan_screens(reflection, declarations.views, custom):
        cls, kwargs = tuned_class(planned.view_class, planned.entry, planned.spec)
        if owned and planned.screen in owned:
            kwargs = {**kwargs, "owned_columns": owned[planned.screen]}
        yield _deferred(cls, planned.entry, planned.screen, db, kwargs, planned.spec)


def init_app(app: Flask, screens: list) -> None:
    """Build a deferred screen when a request reaches it, after the guard's checks (which
    are registered before this hook and answer refusals with 404 first)."""
    by_endpoint = {view.endpoint: view for view in screens}
    app.extensions[EXTENSION] = screens

    @app.before_request
    def _build_requested_screen():
        view = by_endpoint.get(request.blueprint) if request.blueprint else None
        if view is not None and is_deferred(view):
            built(view)


#: The class options naming a table screen's page templates.
_PAGES = ("list_template", "details_template", "create_template", "edit_template")


def _compile_templates(app: Flask, names: set[str]) -> None:
    """Compile ``names`` and every template they extend, include or import by a literal name
    (the first page of each kind otherwise compiles them: the larger part of a first request)."""
    pending, seen = list(names), set()
    while pending:
        name = pending.pop()
        if not name or name in seen:
            continue
        seen.add(name)
        try:
            app.jinja_env.get_template(name)
            source = app.jinja_env.loader.get_source(app.jinja_env, name)[0]
        except TemplateNotFound:
            continue  # a name only a render would resolve: that render says what is missing
        pending.extend(meta.find_referenced_templates(app.jinja_env.parse(source)))


def warm_up(app: Flask) -> int:
    """Before a server serves (gunicorn's master, before it forks its workers): configure the
    mappers of the whole schema, which SQLAlchemy otherwise does on the first use of any
    mapper (about a second at 500 tables, paid by the first request to any table screen of
    every worker), compile the screens' page templates, and build the screens that carry a
    custom class or declared options, so an error in one stops the start loudly. Returns how
    many screens it built."""
    configure_mappers()
    screens = getattr(app, "extensions", {}).get(EXTENSION, ())  # gunicorn may serve another app (benchmarks)
    warm = [view for view in screens if view in _WARM]
    if not screens:
        return 0
    _compile_templates(app, {getattr(type(view), option) for view in screens for option in _PAGES})
    with app.app_context():
        for view in warm:
            built(view)
    return len(warm)
