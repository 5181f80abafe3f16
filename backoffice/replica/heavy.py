"""Heavy reads of the generated screens on the replica: list pages of large tables and exports.

A screen reads through the Flask-SQLAlchemy session, which is bound to the primary. A
routed read does not get a session of its own (its rows are rendered, and their
relations loaded, after the read returns); instead its SELECTs are re-issued on the
replica's engine by a ``do_orm_execute`` hook, inside the same session:

* :func:`read_heavy` routes every SELECT run while ``read()`` runs (a list page: its
  rows, its count, its eager loads); a replica that fails during the read is marked
  down and the read is run again on the primary, so the page still answers;
* :func:`routed_query` marks one query (an export, iterated later while the response
  streams) with the engine to read from.

Only SELECTs move: a flush, an ``INSERT`` or an ``UPDATE`` issued by the same session
stays on the primary, and replica connections are read-only besides. Whether the
replica is used at all (up, a standby, fresh enough, past the operator's own last
write) is :meth:`ReadRouter.route`'s decision.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session, scoped_session

from backoffice.replica.router import EXTENSION, ReadRouter

__all__ = ["read_heavy", "routed_query", "READ_ENGINE_OPTION"]

log = logging.getLogger("backoffice.replica")

#: Execution option (and session.info key) naming the engine a SELECT must read from.
READ_ENGINE_OPTION = "backoffice_read_engine"

T = TypeVar("T")


def _router() -> ReadRouter | None:
    router = current_app.extensions.get(EXTENSION) if has_app_context() else None
    return router if router is not None and router.replica is not None else None


def _session(session) -> Session:
    return session() if isinstance(session, scoped_session) else session


def _read_elsewhere(state: ORMExecuteState):
    """Re-issue a SELECT on the engine the read was routed to (writes are never moved)."""
    engine = state.execution_options.get(READ_ENGINE_OPTION) or state.session.info.get(READ_ENGINE_OPTION)
    if engine is None or not state.is_select:
        return None
    return state.invoke_statement(bind_arguments={"bind": engine})


def _listen(session: Session) -> None:
    if not event.contains(session, "do_orm_execute", _read_elsewhere):
        event.listen(session, "do_orm_execute", _read_elsewhere)


def read_heavy(session, rows: int | None, read: Callable[[], T]) -> T:
    """Run ``read()`` (a list page of a table estimated at ``rows`` rows; None = not a
    heavy read) with its SELECTs on the replica when the router allows it."""
    router = _router()
    if router is None or rows is None or rows < router.min_rows:
        return read()
    route = router.route()
    if route.target != "replica":
        return read()
    session = _session(session)
    _listen(session)
    session.info[READ_ENGINE_OPTION] = route.engine
    try:
        return read()
    except DBAPIError as exc:
        if not _replica_failed(exc):
            raise  # what the primary would answer too (a refused relation, a timeout)
        # The replica answered the router a moment ago and failed now (stopped, or a query
        # cancelled by a conflict with recovery): the primary answers instead.
        log.warning("a read on the replica failed (%s); reading from the primary",
                    type(exc.orig or exc).__name__, extra={"event": "replica.read_failed"})
        router.mark_down()
        session.rollback()  # a read-only request: nothing of the operator's is lost
    finally:
        session.info.pop(READ_ENGINE_OPTION, None)
    return read()


def _replica_failed(exc: DBAPIError) -> bool:
    """The replica itself failed (gone, shutting down, a read cancelled by replay), as
    opposed to an answer the primary would give as well."""
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "pgcode", None) or ""
    # 08: connection; 57P01-57P03: shutdown / cannot connect now; 40001: conflict with recovery.
    return code.startswith(("08", "57P")) or code == "40001" or code == ""


def routed_query(session, query):
    """``query`` (read later, e.g. while an export streams) marked to read from the replica
    when the router allows it; unmarked when not, or when the replica refuses it now."""
    router = _router()
    if router is None:
        return query
    route = router.route()
    if route.target != "replica":
        return query
    _listen(_session(session))
    routed = query.execution_options(**{READ_ENGINE_OPTION: route.engine})
    try:
        routed.limit(0).all()  # a replica that fails does so here, before the response starts
    except DBAPIError as exc:
        if not _replica_failed(exc):
            raise
        log.warning("the replica refused an export's query (%s); reading from the primary",
                    type(exc.orig or exc).__name__, extra={"event": "replica.read_failed"})
        router.mark_down()
        _session(session).rollback()
        return query
    return routed
