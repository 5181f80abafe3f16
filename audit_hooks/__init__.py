"""The audit hook pipeline: every write is recorded in its own transaction, before commit.

No data change reaches the database without its audit row, and no audit row
exists without its change. How:

* :mod:`audit_hooks.collector` turns every flush of the application's session, and
  every ORM ``UPDATE/DELETE ... WHERE`` statement, into one :class:`ChangeSet`
  (actor, role, action, reason, client address, request id, and each changed row
  with its primary key and old -> new values, the whole row for inserts and deletes)
  and runs the ``audit_changeset`` hooks on it inside the transaction;
* the built-in :class:`~audit_hooks.writer.AuditWriter` is one such hook: it appends
  hash-chained rows to ``backoffice_audit_events`` (:mod:`audit_hooks.chain`);
* a hook that raises aborts the whole transaction: data and audit rows roll back;
* :mod:`audit_hooks.guard` refuses, before it runs, any statement that would write a
  reflected table outside those paths (raw ``text()`` DML, another connection...),
  and any flush whose statements wrote rows that were not audited.

Custom actions (the review queue, scripts) use one call, :func:`audit_action`::

    from audit_hooks import AuditVeto, audit_action

    with audit_action("review.apply", reason=note):
        review.status = "applied"          # ordinary ORM changes on db.session
        movie.tmdb_id = review.candidate_tmdb_id
    db.session.commit()                    # or commit inside the block

Every row changed inside the block is audited with ``action="review.apply"`` and
the reason; the actor, role, client address and request id come from the request
(``actor=Operator(...)`` overrides, e.g. for jobs). Leaving the block flushes the
session, so the hooks run (and may veto) right there: catch :class:`AuditError`
(its message is for the operator), then ``db.session.rollback()``. Without
:func:`audit_action` the action is ``create`` / ``update`` / ``delete`` per row.

Extra hooks: see :mod:`audit_hooks.hookspecs` (the hook points) and
:mod:`audit_hooks.examples`; they are registered by dotted path from
``BACKOFFICE_AUDIT_HOOKS`` and ``[hooks] audit = [...]`` of the declarative file.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pluggy
from flask import Flask

from audit_hooks.cascade import Preview, delete_preview
from audit_hooks.changeset import AuditContext, ChangeSet, RowChange, audit_action
from audit_hooks.errors import AuditError, AuditGuardError, AuditVeto
from audit_hooks.hookspecs import PROJECT, AuditSpecs, hookimpl
from audit_hooks.loading import register_rules

__all__ = [
    "init_app", "audit_action", "ChangeSet", "RowChange", "AuditContext", "AuditError", "AuditVeto",
    "AuditGuardError", "hookimpl", "make_plugin_manager", "register_rules", "delete_preview", "Preview",
]

log = logging.getLogger(__name__)


def make_plugin_manager(paths: tuple[str, ...] | list[str] = (), writer=None) -> pluggy.PluginManager:
    """The hook manager: the specs, the built-in writer (``writer``, or one signing with a
    throw-away key, for tests of hooks alone), then each dotted path's hook."""
    import secrets

    from audit_hooks.loading import load_hook
    from audit_hooks.signing import Keyring
    from audit_hooks.writer import AuditWriter

    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(AuditSpecs)
    if writer is None:
        writer = AuditWriter(Keyring("throwaway", {"throwaway": secrets.token_bytes(32)}))
    manager.register(writer, name="audit_hooks.writer")
    for path in dict.fromkeys(paths):
        manager.register(load_hook(path), name=path)
    manager.check_pending()
    return manager


def init_app(app: Flask, db, reflection, settings, declarations) -> pluggy.PluginManager:
    """Make the console's own tables exist, then audit every write of ``db``'s session and engine.

    The audit table is created at start-up when missing (idempotent, logged): the
    console owns its ``backoffice_`` tables, and a console that cannot record writes
    must not accept them. When it cannot be created (no privilege), start-up goes on
    for reading, and every write is refused by the writer with a message saying so.
    """
    from backoffice.core.settings import SettingsError
    from models.own import init_db

    from audit_hooks.cascade import complete_sqlite_rules
    from audit_hooks.checkpoints import Checkpointer, checkpoint_path
    from audit_hooks.collector import Collector
    from audit_hooks.guard import Guard
    from audit_hooks.loading import HookLoadError
    from audit_hooks.privileges import check_privileges
    from audit_hooks.signing import keyring_for
    from audit_hooks.triggers import schema_triggers
    from audit_hooks.writer import AuditWriter

    keyring = keyring_for(settings, Path(app.instance_path))
    if keyring.generated_file is not None:
        log.warning("AUDIT_SIGNING_KEY is not set: the audit chain is signed with the key generated in %s "
                    "(owner-only). It protects the chain against someone who holds the database but not this "
                    "file; copy it somewhere safe, or set AUDIT_SIGNING_KEY (docs/audit-integrity.md)",
                    keyring.generated_file)

    with app.app_context():
        engine = db.engine
        try:
            created = init_db(engine)
        except Exception as exc:  # e.g. a read-only role: writes will be refused, reads still work
            log.error("cannot create the console's own tables (%s); every write will be refused", exc)
        else:
            if created:
                log.warning("created the console's own tables: %s", ", ".join(created))
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                complete_sqlite_rules(connection, [e.table for e in reflection.tables.values()])
        app.extensions["backoffice.audit.powers"] = check_privileges(engine)
        app.extensions["backoffice.audit.triggers"] = schema_triggers(engine, reflection)
    file_paths = declarations.hooks.get("audit", []) if isinstance(declarations.hooks.get("audit"), list) else []
    try:
        manager = make_plugin_manager([*settings.backoffice_audit_hooks, *file_paths],
                                      writer=AuditWriter(keyring, settings.audit_lock_timeout_ms))
    except HookLoadError as exc:
        raise SettingsError([f"BACKOFFICE_AUDIT_HOOKS={','.join(settings.backoffice_audit_hooks)!r} is not "
                             f"valid: {exc}"]) from None
    tables = {entry.table: entry.qualified_name for entry in reflection.tables.values()}
    Collector(manager.hook, tables).listen(db.session)
    Guard(tables).listen(engine)
    manager.register(Checkpointer(engine, keyring, checkpoint_path(settings), settings.audit_checkpoint_every),
                     name="audit_hooks.checkpoints")
    app.extensions["backoffice.audit"] = manager
    return manager
