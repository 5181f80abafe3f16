"""The engine-level guard: no DML reaches a reflected table outside an audited path.

Every statement the application's engine sends is inspected just before it goes
to the driver. An INSERT / UPDATE / DELETE / MERGE / TRUNCATE / COPY ... FROM on a
reflected table is let through only while the application's session is flushing
(the collector audits the flush, and counts here what each statement wrote so a
row the collector missed refuses the flush) or while an audited bulk statement
runs. Everything else (``text()`` DML, ``exec_driver_sql``, another session or
connection) is refused before it runs. UPDATE / DELETE / TRUNCATE on the audit
table itself are refused too (PostgreSQL also has a trigger for that).
"""
from __future__ import annotations

import re

from sqlalchemy import Engine, event
from sqlalchemy.sql.dml import Delete, Insert, Update

from backoffice.core.internals import session_is_flushing
from models.own import audit_events

from audit_hooks.collector import BULK_KEY, FLUSHING_KEY, WRITTEN_KEY
from audit_hooks.errors import AuditGuardError

__all__ = ["Guard", "dml_targets"]

_NAME = r'(?:"[^"]+"|[A-Za-z_][\w$]*)'
_QUALIFIED = rf"({_NAME}(?:\s*\.\s*{_NAME})?)"
_DML = re.compile(
    rf"\b(insert\s+into|update|delete\s+from|truncate(?:\s+table)?|merge\s+into|replace\s+into)\s+(?:only\s+)?"
    rf"{_QUALIFIED}|\b(copy)\s+{_QUALIFIED}\s*(?:\([^)]*\)\s*)?from\b",
    re.IGNORECASE)
_NOISE = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.DOTALL)
_OPS = {"insert": "insert", "update": "update", "delete": "delete", "truncate": "delete", "merge": "update",
        "replace": "insert", "copy": "insert"}


def _unquote(name: str) -> tuple[str | None, str]:
    parts = [p.strip().strip('"') for p in re.split(r'\s*\.\s*(?=(?:[^"]*"[^"]*")*[^"]*$)', name)]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def dml_targets(statement: str) -> list[tuple[str, str | None, str]]:
    """(op, schema, table) of every write a SQL text may perform (conservative)."""
    found = []
    for match in _DML.finditer(_NOISE.sub(" ", statement)):
        keyword, target = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        schema, table = _unquote(target)
        found.append((_OPS[keyword.split()[0].lower()], schema, table))
    return found


class Guard:
    """Engine listeners enforcing that reflected tables change only through audited paths."""

    def __init__(self, tables):
        self.names = {t.name.lower(): name for t, name in tables.items()}
        self.qualified = {(t.schema, t.name): name for t, name in tables.items()}

    def listen(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _targets(self, statement: str, context) -> list[tuple[str, str | None, str]]:
        compiled = getattr(context, "compiled", None)
        element = getattr(compiled, "statement", None)
        if isinstance(element, (Insert, Update, Delete)):
            op = "insert" if isinstance(element, Insert) else "update" if isinstance(element, Update) else "delete"
            return [(op, element.table.schema, element.table.name)]
        if compiled is not None and element is not None and not hasattr(element, "text"):
            return []  # a compiled SELECT or DDL construct
        return dml_targets(statement)

    def _reflected(self, schema: str | None, name: str) -> str | None:
        # conservative: an unknown schema prefix still matches a reflected table of that name
        return self.qualified.get((schema, name)) or self.names.get(name.lower())

    @staticmethod
    def _flushing_session(connection):
        ref = connection.info.get(FLUSHING_KEY)
        session = ref() if ref is not None else None
        return session if session is not None and session_is_flushing(session) else None

    def _before(self, connection, _cursor, statement, _parameters, context, _executemany):
        for op, schema, name in self._targets(statement, context):
            if name.lower() == audit_events.name and op != "insert":
                raise AuditGuardError(f"refused: {audit_events.name} is append-only ({op.upper()} is not allowed)")
            table = self._reflected(schema, name)
            if table is None:
                continue
            if connection.info.get(BULK_KEY) or self._flushing_session(connection) is not None:
                continue
            raise AuditGuardError(
                f"refused: {op.upper()} on {table} outside the audited write path (session flush or ORM "
                "UPDATE/DELETE ... WHERE); raw SQL writes to reflected tables cannot be audited")

    def _after(self, connection, _cursor, statement, _parameters, context, _executemany):
        session = self._flushing_session(connection)
        if session is None or connection.info.get(BULK_KEY):
            return
        for op, schema, name in self._targets(statement, context):
            table = self._reflected(schema, name)
            if table is not None:
                # one entry per execution context: insertmanyvalues batches share theirs
                rows = len(getattr(context, "compiled_parameters", None) or [None])
                session.info.setdefault(WRITTEN_KEY, {})[id(context)] = (table, op, rows)
