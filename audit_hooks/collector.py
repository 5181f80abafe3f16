"""Collect change sets from the application's session and run the pipeline on them.

Two write paths exist in the ORM, and both are covered here:

* the unit of work (``session.add`` / attribute changes / ``session.delete`` then
  flush): old rows are read from the database in ``before_flush`` (attribute
  history loses old values of expired attributes), new rows in ``after_flush``
  where primary keys exist; the hooks run there, inside the transaction;
* ORM bulk ``UPDATE`` / ``DELETE`` statements (``session.execute(update(...))``,
  ``query.delete()``, Flask-Admin's ``fast_mass_delete``): ``do_orm_execute``
  snapshots the matched rows (``FOR UPDATE`` on PostgreSQL), runs the statement,
  checks the row count and runs the hooks.

Anything else that would write a reflected table (bulk INSERT, ``text()`` DML,
another session or connection) is refused by :mod:`audit_hooks.guard`.
"""
from __future__ import annotations

import logging
import weakref
from collections import Counter
from typing import Any

from flask_admin.tools import iterencode
from sqlalchemy import Table, event, inspect, select, tuple_
from sqlalchemy.orm import ORMExecuteState, Session

from backoffice.core.internals import update_values

from audit_hooks.cascade import Planned
from audit_hooks.changeset import ChangeSet, RowChange, json_value
from audit_hooks.consequences import Consequences
from audit_hooks.errors import AuditGuardError

__all__ = ["Collector", "FLUSHING_KEY", "BULK_KEY", "WRITTEN_KEY"]

log = logging.getLogger(__name__)

FLUSHING_KEY = "backoffice.audit.flushing_session"  # connection.info: weakref to the flushing session
BULK_KEY = "backoffice.audit.bulk_depth"  # connection.info: an audited bulk statement is running
WRITTEN_KEY = "backoffice.audit.written"  # session.info: rows each DML statement of this flush wrote
_SNAPSHOT_KEY = "backoffice.audit.snapshot"
_PENDING_KEY = "backoffice.audit.pending"
_PLAN_KEY = "backoffice.audit.cascade_plan"
_BATCH = 500


def entity_id(values: list[Any]) -> str:
    """The primary key as Flask-Admin spells it in URLs (``?id=2001,rt`` for composite keys)."""
    return str(values[0]) if len(values) == 1 else iterencode(str(v) for v in values)


class Collector:
    """Listens on one app's session factory; runs ``hooks`` on every change set."""

    def __init__(self, hooks, tables: dict[Table, str]):
        self.hooks = hooks
        self.tables = tables  # reflected Table -> qualified name
        self.by_name = {(t.schema, t.name): t for t in tables}
        self.consequences = Consequences(list(tables))

    def listen(self, session_factory) -> None:
        event.listen(session_factory, "before_flush", self._before_flush)
        event.listen(session_factory, "after_flush", self._after_flush)
        event.listen(session_factory, "do_orm_execute", self._on_orm_execute)
        event.listen(session_factory, "after_commit", self._after_commit)
        event.listen(session_factory, "after_transaction_end", self._after_transaction_end)

    # -- reading rows ---------------------------------------------------------------------------

    def _pk_columns(self, table: Table) -> list:
        mapper_pk = [c for c in table.primary_key.columns]
        return mapper_pk or list(table.columns)

    def _fetch(self, connection, table: Table, keys: list[tuple], lock: bool = False,
               raw: bool = False) -> dict[tuple, dict]:
        """Current rows of ``table`` by primary-key tuple (column name -> JSON-safe value,
        or the driver's value with ``raw``)."""
        columns = self._pk_columns(table)
        found: dict[tuple, dict] = {}
        for start in range(0, len(keys), _BATCH):
            chunk = keys[start:start + _BATCH]
            criterion = columns[0].in_([k[0] for k in chunk]) if len(columns) == 1 else \
                tuple_(*columns).in_(chunk)
            query = select(table).where(criterion)
            if lock and connection.dialect.name == "postgresql":
                query = query.with_for_update()
            for row in connection.execute(query).mappings():
                found[tuple(row[c.name] for c in columns)] = dict(row) if raw else \
                    {k: json_value(v) for k, v in row.items()}
        return found

    def _row_change(self, table: Table, op: str, key: tuple, old: dict, new: dict) -> RowChange:
        names = [c.name for c in self._pk_columns(table)]
        return RowChange(table=self.tables[table], op=op, primary_key=dict(zip(names, map(json_value, key))),
                         entity_id=entity_id(list(key)), old=old, new=new)

    # -- the unit of work -----------------------------------------------------------------------

    def _reflected_states(self, objects) -> list:
        states = [inspect(obj) for obj in objects]
        return [s for s in states if s.mapper.local_table in self.tables]

    def _before_flush(self, session: Session, _flush_context, _instances) -> None:
        connection = session.connection()
        connection.info[FLUSHING_KEY] = weakref.ref(session)
        session.info[WRITTEN_KEY] = {}
        snapshot: dict[Any, dict] = {}
        roots: list[Planned] = []
        deleted = set(session.deleted)
        # Rows to delete are locked first: parents before the children their cascade reaches.
        for group in ([o for o in session.deleted], [o for o in session.dirty if o not in deleted]):
            wanted: dict[Table, list] = {}
            for state in self._reflected_states(group):
                if state.key is not None:
                    wanted.setdefault(state.mapper.local_table, []).append(state)
            for table, states in wanted.items():
                removing = states[0].obj() in deleted
                rows = self._fetch(connection, table, [s.key[1] for s in states], lock=removing, raw=True)
                for state in states:
                    row = rows.get(state.key[1])
                    if row is None:
                        continue
                    snapshot[state] = {k: json_value(v) for k, v in row.items()}
                    roots.append(self._root(table, state, row, removing))
        session.info[_SNAPSHOT_KEY] = snapshot
        session.info[_PLAN_KEY] = self.consequences.plan_for(connection, roots)

    def _root(self, table: Table, state, row: dict, removing: bool) -> Planned:
        if removing:
            return Planned(table, "delete", state.key[1], row)
        new = {state.mapper.get_property(k).columns[0].name: state.dict.get(k) for k in self._changed_keys(state)}
        return Planned(table, "update", state.key[1], row, new)

    def _after_flush(self, session: Session, _flush_context) -> None:
        snapshot = session.info.pop(_SNAPSHOT_KEY, {})
        planned = session.info.pop(_PLAN_KEY, [])
        connection = session.connection()
        changes: list[tuple[Table, str, tuple, Any]] = []
        for state in self._reflected_states(session.new):
            changes.append((state.mapper.local_table, "insert",
                            tuple(state.mapper.primary_key_from_instance(state.obj())), state))
        for state in self._reflected_states(session.deleted):
            changes.append((state.mapper.local_table, "delete", state.key[1], state))
        deleted = set(session.deleted)
        for state in self._reflected_states(o for o in session.dirty if o not in deleted):
            if state.key is not None and self._changed_keys(state):
                changes.append((state.mapper.local_table, "update", state.key[1], state))

        current: dict[Table, dict[tuple, dict]] = {}
        for table in {c[0] for c in changes if c[1] != "delete"}:
            keys = [c[2] for c in changes if c[0] is table and c[1] != "delete"]
            # after an update the key may have changed: read the row by its new key too
            keys += [tuple(c[3].mapper.primary_key_from_instance(c[3].obj())) for c in changes
                     if c[0] is table and c[1] == "update"]
            current[table] = self._fetch(connection, table, keys)

        rows: list[RowChange] = []
        for table, op, key, state in changes:
            if op == "insert":
                rows.append(self._row_change(table, op, key, {}, current[table].get(key, {})))
            elif op == "delete":
                rows.append(self._row_change(table, op, key, snapshot.get(state) or self._state_row(state), {}))
            else:
                new_key = tuple(state.mapper.primary_key_from_instance(state.obj()))
                after = current[table].get(new_key, {})
                before = snapshot.get(state) or self._history_row(state, after)
                changed = [k for k in after if before.get(k) != after[k]] or \
                    [state.mapper.get_property(k).columns[0].name for k in self._changed_keys(state)]
                rows.append(self._row_change(table, op, key, {k: before.get(k) for k in changed},
                                             {k: after.get(k) for k in changed}))
        rows += self._cascaded(connection, planned, rows)
        if rows:
            self.run(ChangeSet.build(rows), connection, session)
        self._check_written(session, rows)

    def _cascaded(self, connection, planned: list[Planned], rows: list[RowChange]) -> list[RowChange]:
        """Audited changes for what the database cascaded from ``rows`` (see audit_hooks/cascade.py)."""
        if not planned:
            return []
        by_name = {name: table for table, name in self.tables.items()}
        roots = {(id(by_name[r.table]), r.op, tuple(r.primary_key.values())): r for r in rows}
        roots = {(t, op, tuple(json_value(v) for v in key)): r for (t, op, key), r in roots.items()}
        keyed = {}
        for item in planned:
            cause = item.cause
            if cause is not None and cause.cause is None:  # a root: match its audited change by JSON-safe key
                keyed[(id(cause.table), cause.op, cause.key)] = roots.get(
                    (id(cause.table), cause.op, tuple(json_value(v) for v in cause.key)))
        return Consequences.changes_for(planned, keyed, lambda t, keys: self._fetch(connection, t, keys),
                                        self._row_change)

    @staticmethod
    def _changed_keys(state) -> list[str]:
        return [p.key for p in state.mapper.column_attrs if state.attrs[p.key].history.has_changes()]

    @staticmethod
    def _state_row(state) -> dict:
        return {p.columns[0].name: json_value(state.dict.get(p.key)) for p in state.mapper.column_attrs}

    def _history_row(self, state, after: dict) -> dict:
        """Old values from attribute history, for rows the ORM changed during the flush itself."""
        before = dict(after)
        for prop in state.mapper.column_attrs:
            history = state.attrs[prop.key].history
            if history.deleted:
                before[prop.columns[0].name] = json_value(history.deleted[0])
        return before

    def _check_written(self, session: Session, rows: list[RowChange]) -> None:
        """The guard at flush end: every row the flush's statements wrote must be audited."""
        written: Counter = Counter()
        for table_key, op, count in session.info.get(WRITTEN_KEY, {}).values():
            written[(table_key, op)] += count
        collected = Counter((row.table, row.op) for row in rows)
        for (table_key, op), count in sorted(written.items()):
            if count > collected[(table_key, op)]:
                raise AuditGuardError(
                    f"refused: this write changed {count} row(s) of {table_key} ({op}) but only "
                    f"{collected[(table_key, op)]} were audited; nothing was saved")

    # -- the pipeline -------------------------------------------------------------------------

    def run(self, changeset: ChangeSet, connection, session: Session) -> None:
        changeset.connection = connection
        self.hooks.audit_changeset(changeset=changeset)
        if len(changeset.audit_ids) != len(changeset.rows):
            raise AuditGuardError(
                f"refused: {len(changeset.rows)} changed row(s) but {len(changeset.audit_ids)} audit row(s) "
                "were written (is the audit writer registered?); nothing was saved")
        session.info.setdefault(_PENDING_KEY, []).append(changeset)

    def _after_commit(self, session: Session) -> None:
        for changeset in session.info.pop(_PENDING_KEY, []):
            changeset.connection = None
            try:
                self.hooks.audit_committed(changeset=changeset)
            except Exception:  # the change is committed; a notification failure must not hide that
                log.exception("an audit_committed hook failed")

    def _after_transaction_end(self, session: Session, transaction) -> None:
        if transaction.parent is None:
            session.info.pop(_PENDING_KEY, None)
            session.info.pop(_SNAPSHOT_KEY, None)
            session.info.pop(_PLAN_KEY, None)

    # -- ORM bulk statements ------------------------------------------------------------------

    def _on_orm_execute(self, state: ORMExecuteState):
        if not (state.is_update or state.is_delete or state.is_insert):
            return None
        target = getattr(state.statement, "table", None)
        table = self.by_name.get((getattr(target, "schema", None), getattr(target, "name", None)))
        if table is None:
            return None
        name = self.tables[table]
        if state.is_insert:
            raise AuditGuardError(f"refused: a bulk INSERT into {name} cannot be audited; "
                                  "add objects to the session instead")
        if isinstance(state.parameters, list) or len(getattr(state.statement, "exported_columns", ())):
            raise AuditGuardError(f"refused: this form of bulk statement on {name} cannot be audited; "
                                  "use UPDATE/DELETE ... WHERE, or change objects in the session")
        return self._audited_bulk(state, table)

    def _audited_bulk(self, state: ORMExecuteState, table: Table):
        op = "update" if state.is_update else "delete"
        name = self.tables[table]
        pk_names = {c.name for c in self._pk_columns(table)}
        if op == "update" and pk_names & {getattr(k, "key", str(k)) for k in update_values(state.statement)}:
            raise AuditGuardError(f"refused: a bulk UPDATE of the primary key of {name} cannot be audited")
        connection = state.session.connection()
        query = select(table)
        if state.statement.whereclause is not None:
            query = query.where(state.statement.whereclause)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        params = state.parameters if isinstance(state.parameters, dict) else {}
        columns = self._pk_columns(table)
        raw = {tuple(r[c.name] for c in columns): dict(r) for r in connection.execute(query, params).mappings()}
        before = {key: {k: json_value(v) for k, v in r.items()} for key, r in raw.items()}
        values = {getattr(k, "key", str(k)): getattr(v, "value", v) for k, v in update_values(state.statement).items()}
        planned = self.consequences.plan_for(connection, [
            Planned(table, op, key, r, values if op == "update" else {}) for key, r in raw.items()])
        connection.info[BULK_KEY] = connection.info.get(BULK_KEY, 0) + 1
        try:
            result = state.invoke_statement()
        finally:
            connection.info[BULK_KEY] -= 1
        if result.rowcount not in (-1, len(before)):
            raise AuditGuardError(f"refused: the bulk {op} on {name} changed {result.rowcount} row(s) but "
                                  f"{len(before)} were snapshotted for the audit (concurrent change?)")
        rows = []
        after = self._fetch(connection, table, list(before)) if op == "update" else {}
        for key, old in before.items():
            if op == "delete":
                rows.append(self._row_change(table, op, key, old, {}))
                continue
            new = after.get(key, {})
            changed = [k for k in new if old.get(k) != new[k]]
            if changed:
                rows.append(self._row_change(table, op, key, {k: old[k] for k in changed},
                                             {k: new[k] for k in changed}))
        rows += self._cascaded(connection, planned, rows)
        if rows:
            self.run(ChangeSet.build(rows), connection, state.session)
        return result
