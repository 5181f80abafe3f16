"""The console's own tables. Prefixed ``backoffice_``; never shown as generic screens."""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy import Engine

__all__ = ["own_metadata", "audit_events", "submissions", "health_snapshots", "health_history", "audit_verifications",
           "security_events", "approval_requests", "init_db",
           "HEALTH_HISTORY_KEEP", "OWN_PREFIX", "APPEND_ONLY_TRIGGER", "UPGRADE_COLUMNS", "CONSOLE_GRANTS", "audit_table_powers"]

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
    # Added with the keyed chain; NULL on rows written before it (see audit_hooks/chain.py).
    Column("caused_by", BigInteger().with_variant(Integer, "sqlite")),  # audit id of the change that caused this one
    Column("key_id", String(32)),  # which signing key made ``mac``
    Column("mac", String(64)),  # HMAC-SHA256 of the row's content under that key
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

#: The figures of each stored report (check name -> count), newest last: the dashboard's
#: trend. Only the last :data:`HEALTH_HISTORY_KEEP` rows per report are kept.
health_history = Table(
    "backoffice_health_history", own_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    Column("figures", Text, nullable=False),  # JSON: {"check": count or null}
    Index("ix_backoffice_health_history_name", "name", "id"),
)
HEALTH_HISTORY_KEEP = 30

#: Each run of ``audit-verify`` and ``audit-checkpoint``: when, and what it found. The
#: dashboard shows the newest (primary key descending) or says "never".
audit_verifications = Table(
    "backoffice_audit_verifications", own_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(20), nullable=False),  # verify | checkpoint
    Column("ok", Integer, nullable=False),  # 1 = no break found / checkpoint written
    Column("rows", BigInteger().with_variant(Integer, "sqlite")),
    Column("message", Text),
)


# -- sign-in events (backoffice/auth/signins.py) -------------------------------------------
#: Security events aggregated so a brute-force run cannot flood the table: one row per
#: kind, address and window, counting; a first sign-in is one row per operator and address
#: (``window_start`` is then the epoch). ``username`` is the first one tried in the window.
security_events = Table(
    "backoffice_security_events", own_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # sign_in | sign_in_failed | lockout
    Column("client_addr", String(64), nullable=False),
    Column("username", String(200), nullable=False),  # the operator of a sign_in; "" for the aggregated kinds
    Column("tried", String(200)),  # failures and lockouts: the first username tried in the window
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("first_at", DateTime(timezone=True), nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("count", Integer, nullable=False),
    UniqueConstraint("kind", "client_addr", "username", "window_start", name="uq_backoffice_security_events"),
    Index("ix_backoffice_security_events_last_at", "last_at"),
    Index("ix_backoffice_security_events_window", "window_start", "kind"),
)


# -- two-person approval (views/approval_store.py) ----------------------------------------
#: One row per change held for a second operator's approval. ``rows`` holds, per row, its
#: primary key and the old -> new values the requester saw; ``signature`` is an HMAC of every
#: field the requester fixed, so a row edited in the database is refused. ``status`` and the
#: decision columns are written once, by the claim that decides (UPDATE ... WHERE status = 'pending').
approval_requests = Table(
    "backoffice_approval_requests", own_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("requester", String(200), nullable=False),
    Column("requester_role", String(20), nullable=False),
    Column("kind", String(20), nullable=False),  # edit | delete | queue
    Column("action", String(100)),  # a queue request: the queue action to run
    Column("entity_type", String(300), nullable=False),  # the audited (qualified) table name
    Column("screen", String(300), nullable=False),  # the screen's endpoint
    Column("role", String(20), nullable=False),  # least role that may approve
    Column("reason", Text),
    Column("rows", JSON, nullable=False),
    Column("signature", String(64), nullable=False),
    Column("status", String(20), nullable=False),  # pending | approved | rejected
    Column("decided_by", String(200)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_reason", Text),
    Index("ix_backoffice_approval_requests_status", "status", "created_at"),
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


#: Columns added after the first release: init_db adds them to an existing table.
UPGRADE_COLUMNS = {"caused_by": "BIGINT", "key_id": "VARCHAR(32)", "mac": "VARCHAR(64)"}

#: What the console's own role needs on each of its tables, and nothing more: the audit
#: trail is appended to and read, never changed (least privilege, ``init-db --console-role``).
CONSOLE_GRANTS = {"backoffice_audit_events": "SELECT, INSERT", "backoffice_submissions": "SELECT, INSERT",
                  # the console's own state, not history: claims and reports are updated in place
                  "backoffice_health_snapshots": "SELECT, INSERT, UPDATE",
                  # counted per address and window: counting updates the row
                  "backoffice_security_events": "SELECT, INSERT, UPDATE",
                  # a bounded history: older rows are pruned when a report is stored
                  "backoffice_health_history": "SELECT, INSERT, DELETE",
                  "backoffice_audit_verifications": "SELECT, INSERT",
                  # a request is decided once, by updating its status
                  "backoffice_approval_requests": "SELECT, INSERT, UPDATE"}


def _quote(connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _upgrade(connection) -> list[str]:
    from sqlalchemy import inspect, text

    present = {c["name"] for c in inspect(connection).get_columns(audit_events.name)}
    added = []
    for name, kind in UPGRADE_COLUMNS.items():
        if name not in present:
            connection.execute(text(f"ALTER TABLE {audit_events.name} ADD COLUMN {name} {kind}"))
            added.append(f"{audit_events.name}.{name} (column)")
    return added


def _hand_over(connection, owner: str | None, console_role: str | None) -> list[str]:
    """PostgreSQL two-role set-up: tables owned by ``owner``, ``console_role`` granted only
    what it needs (:data:`CONSOLE_GRANTS`)."""
    from sqlalchemy import text

    done = []
    for table in own_metadata.sorted_tables:
        if owner:
            connection.execute(text(f"ALTER TABLE {table.name} OWNER TO {_quote(connection, owner)}"))
        if console_role:
            role = _quote(connection, console_role)
            connection.execute(text(f"REVOKE ALL ON {table.name} FROM {role}"))
            connection.execute(text(f"GRANT {CONSOLE_GRANTS[table.name]} ON {table.name} TO {role}"))
    if owner:
        connection.execute(text(f"ALTER FUNCTION {APPEND_ONLY_TRIGGER}() OWNER TO {_quote(connection, owner)}"))
        done.append(f"owner of the console's tables: {owner}")
    if console_role:
        sequence = connection.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"),
                                      {"t": audit_events.name}).scalar()
        if sequence:
            connection.execute(text(f"GRANT USAGE ON SEQUENCE {sequence} TO {_quote(connection, console_role)}"))
        for table in (security_events, health_history, audit_verifications, approval_requests):
            sequence = connection.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"),
                                          {"t": table.name}).scalar()
            if sequence:
                connection.execute(text(f"GRANT USAGE ON SEQUENCE {sequence} TO {_quote(connection, console_role)}"))
        done.append(f"{console_role} may only: " + "; ".join(f"{v} on {k}" for k, v in CONSOLE_GRANTS.items()))
    return done


def audit_table_powers(connection) -> list[str]:
    """What the connected role can do to the audit table beyond appending and reading
    (PostgreSQL; empty elsewhere or when the table is missing). Each is a way to rewrite
    history that only the keyed chain and its checkpoints would reveal."""
    from sqlalchemy import text

    if connection.dialect.name != "postgresql":
        return []
    row = connection.execute(text(
        "SELECT has_table_privilege(c.oid, 'UPDATE') AS can_update, has_table_privilege(c.oid, 'DELETE') AS can_delete,"
        " has_table_privilege(c.oid, 'TRUNCATE') AS can_truncate,"
        " pg_has_role(c.relowner, 'USAGE') OR r.rolsuper AS can_alter"
        " FROM pg_class c, pg_roles r WHERE c.oid = to_regclass(:t) AND r.rolname = current_user"),
        {"t": audit_events.name}).mappings().first()
    if row is None:
        return []
    powers = [verb for verb, key in (("UPDATE", "can_update"), ("DELETE", "can_delete"), ("TRUNCATE", "can_truncate"))
              if row[key]]
    if row["can_alter"]:
        powers.append("ALTER TABLE / DISABLE TRIGGER (it owns the table or is a superuser)")
    return powers


def init_db(engine: Engine, owner: str | None = None, console_role: str | None = None) -> list[str]:
    """Create the console's own tables if missing (idempotent). Returns what was done.

    On PostgreSQL it also installs, once, the trigger that rejects UPDATE, DELETE
    and TRUNCATE on the audit table (the audit trail is append-only). Columns added
    by later releases are added to an existing table. ``owner`` and ``console_role``
    (PostgreSQL) set up least privilege: see docs/audit-integrity.md.
    """
    from sqlalchemy import inspect, text

    if (owner or console_role) and engine.dialect.name != "postgresql":
        raise ValueError("--owner and --console-role need PostgreSQL (SQLite has no roles)")
    existing = set(inspect(engine).get_table_names())
    own_metadata.create_all(engine, checkfirst=True)
    created = [t.name for t in own_metadata.sorted_tables if t.name not in existing]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # serialise concurrent init-db runs; the check and the CREATE must not interleave
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('backoffice init-db'))"))
        created += _upgrade(conn)
        if engine.dialect.name == "postgresql":
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
            created += _hand_over(conn, owner, console_role)
    return created
