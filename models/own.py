"""The console's own tables. Prefixed ``backoffice_``; never shown as generic screens."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text
from sqlalchemy import Engine

__all__ = ["own_metadata", "audit_events", "submissions", "health_snapshots", "init_db", "OWN_PREFIX",
           "APPEND_ONLY_TRIGGER"]

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

#: One row per create form saved with its one-time nonce, written in the same
#: transaction as the new record: a second submission of the same form finds it.
submissions = Table(
    "backoffice_submissions", own_metadata,
    Column("nonce", String(64), primary_key=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("screen", String(300), nullable=False),
)


# -- catalog-health snapshots (backoffice/catalog/snapshot.py) -------------------------
#: One row per stored report: computed once by whichever process holds the row's
#: refresh claim, read by every worker and instance. The console's own state, not
#: audited data: a snapshot is a cache of figures, rewritten at every refresh.
health_snapshots = Table(
    "backoffice_health_snapshots", own_metadata,
    Column("name", String(100), primary_key=True),
    Column("fingerprint", String(64)),  # of the checks and options that produced the report
    Column("computed_at", DateTime(timezone=True)),
    Column("seconds", Float),
    Column("report", Text),  # the report as JSON
    Column("refreshing_since", DateTime(timezone=True)),  # the claim: set while a refresh runs
    Column("refreshing_by", String(200)),
)


#: Name of the PostgreSQL trigger (and its function) that makes the audit table append-only.
APPEND_ONLY_TRIGGER = "backoffice_audit_events_append_only"

_APPEND_ONLY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {APPEND_ONLY_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'backoffice_audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$"""


def init_db(engine: Engine) -> list[str]:
    """Create the console's own tables if missing (idempotent). Returns what was created.

    On PostgreSQL it also installs, once, the trigger that rejects UPDATE, DELETE
    and TRUNCATE on the audit table (the audit trail is append-only).
    """
    from sqlalchemy import inspect, text

    existing = set(inspect(engine).get_table_names())
    own_metadata.create_all(engine, checkfirst=True)
    created = [t.name for t in own_metadata.sorted_tables if t.name not in existing]
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            # serialise concurrent init-db runs; the check and the CREATE must not interleave
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('backoffice init-db'))"))
            present = conn.execute(text(
                "SELECT count(*) FROM pg_trigger WHERE tgname = :name AND tgrelid = to_regclass(:table)"),
                {"name": APPEND_ONLY_TRIGGER, "table": audit_events.name}).scalar()
            if not present:
                conn.execute(text(_APPEND_ONLY_FUNCTION))
                for timing in ("BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW", "BEFORE TRUNCATE ON {t}"):
                    suffix = "" if "ROW" in timing else "_truncate"
                    conn.execute(text(f"CREATE TRIGGER {APPEND_ONLY_TRIGGER}{suffix} "
                                      f"{timing.format(t=audit_events.name)} EXECUTE FUNCTION {APPEND_ONLY_TRIGGER}()"))
                created.append(f"{APPEND_ONLY_TRIGGER} (trigger)")
    return created
