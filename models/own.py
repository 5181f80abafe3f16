"""The console's own tables. Prefixed ``backoffice_``; never shown as generic screens."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text
from sqlalchemy import Engine

__all__ = ["own_metadata", "audit_events", "init_db", "OWN_PREFIX"]

OWN_PREFIX = "backoffice_"
own_metadata = MetaData()

audit_events = Table(
    "backoffice_audit_events", own_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("actor_role", String(20), nullable=False),
    Column("action", String(100), nullable=False),
    Column("entity_type", String(300), nullable=False),
    Column("entity_id", String(500), nullable=False),
    Column("changes", JSON, nullable=False),
    Column("reason", Text),
    Column("client_addr", String(64)),
    Column("request_id", String(64)),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
    Index("ix_backoffice_audit_entity", "entity_type", "entity_id"),
    Index("ix_backoffice_audit_occurred_at", "occurred_at"),
    Index("ix_backoffice_audit_actor", "actor"),
)


def init_db(engine: Engine) -> list[str]:
    """Create the console's own tables if missing (idempotent). Returns what was created."""
    from sqlalchemy import inspect

    existing = set(inspect(engine).get_table_names())
    own_metadata.create_all(engine, checkfirst=True)
    return [t.name for t in own_metadata.sorted_tables if t.name not in existing]
