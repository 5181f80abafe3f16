"""Each tampering with the audit trail is caught by `backoffice audit-verify` (the CLI), on
SQLite and PostgreSQL: an edited row, a row inserted with a recomputed hash, the whole
tail recomputed, the newest row and the newest fifty removed, and (PostgreSQL) the
append-only trigger disabled by the table's owner before an edit."""
from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text

from audit_hooks import audit_action
from audit_hooks.chain import canonical
from console.cli import main
from backoffice.core.settings import normalise_database_url
from models.own import APPEND_ONLY_TRIGGER, audit_events


def _write(app, n):
    Genre = app.extensions["backoffice.reflection"].tables["genres"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        for i in range(n):
            with audit_action("test.write", reason=f"row {i}"):
                db.session.add(Genre(name=f"tamper {i}", tmdb_genre_id=10_000 + i))
            db.session.commit()


def _cli(db_url, *args, **env):
    return CliRunner().invoke(main, list(args), env={"DATABASE_URL": db_url, **env})


def _sql(db_url, *statements, owner_bypass=False):
    """As whoever holds the database (its owner or a superuser), outside the console."""
    engine = create_engine(normalise_database_url(db_url))
    try:
        with engine.begin() as connection:
            if owner_bypass and engine.dialect.name == "postgresql":
                connection.execute(text("SET session_replication_role = replica"))
            results = [connection.execute(text(s), p or {}) for s, p in statements]
            return [r.mappings().all() if r.returns_rows else None for r in results]
    finally:
        engine.dispose()


def _rows(db_url):
    engine = create_engine(normalise_database_url(db_url))
    try:
        with engine.connect() as connection:
            return [dict(r) for r in connection.execute(select(audit_events).order_by(audit_events.c.id)).mappings()]
    finally:
        engine.dispose()


@pytest.fixture
def chain(app, db_url):
    _write(app, 60)
    checkpoint = _cli(db_url, "audit-checkpoint")
    assert checkpoint.exit_code == 0, checkpoint.output
    ok = _cli(db_url, "audit-verify")
    assert ok.exit_code == 0, ok.output
    assert "audit chain verified: 60 row(s), no break; 1 checkpoint(s)" in ok.output
    return db_url


def test_an_edited_row_is_caught(chain):
    target = _rows(chain)[10]["id"]
    _sql(chain, ("UPDATE backoffice_audit_events SET reason = 'nothing to see' WHERE id = :i", {"i": target}),
         owner_bypass=True)
    result = _cli(chain, "audit-verify")
    assert result.exit_code == 1
    assert f"BROKEN at row id={target}: its content does not match its row_hash" in result.output


def _recomputed(row, **changes):
    """The row as an attacker without the key would write it: content changed, SHA-256 recomputed."""
    row = {**dict(row), **changes}
    row["row_hash"] = hashlib.sha256(canonical(row)).hexdigest()
    return row


def _insert(db_url, row):
    _sql(db_url, ("INSERT INTO backoffice_audit_events (occurred_at, actor, actor_role, action, entity_type, entity_id,"
                  " changes, reason, client_addr, request_id, prev_hash, row_hash, caused_by, key_id, mac) VALUES "
                  "(:occurred_at, :actor, :actor_role, :action, :entity_type, :entity_id, :changes, :reason, "
                  ":client_addr, :request_id, :prev_hash, :row_hash, :caused_by, :key_id, :mac)",
                  {**{k: row[k] for k in row if k != "id"}, "changes": json.dumps(row["changes"])}))


def test_a_row_appended_with_a_recomputed_hash_is_caught(chain):
    last = _rows(chain)[-1]
    forged = _recomputed(last, reason="forged approval", prev_hash=last["row_hash"], entity_id="1")
    _insert(chain, forged)
    result = _cli(chain, "audit-verify")
    assert result.exit_code == 1
    assert "its MAC does not match" in result.output


def test_an_unsigned_row_appended_is_caught(chain):
    last = _rows(chain)[-1]
    forged = _recomputed(last, reason="forged", prev_hash=last["row_hash"], key_id=None, mac=None)
    _insert(chain, forged)
    result = _cli(chain, "audit-verify")
    assert result.exit_code == 1 and "it carries no MAC" in result.output


def test_a_tail_rewritten_with_recomputed_hashes_is_caught(chain):
    rows = _rows(chain)
    previous = rows[29]["row_hash"]
    statements = []
    for row in rows[30:]:
        forged = _recomputed(row, reason="rewritten", prev_hash=previous)
        previous = forged["row_hash"]
        statements.append(("UPDATE backoffice_audit_events SET reason = :r, prev_hash = :p, row_hash = :h WHERE id = :i",
                           {"r": "rewritten", "p": forged["prev_hash"], "h": forged["row_hash"], "i": row["id"]}))
    _sql(chain, *statements, owner_bypass=True)
    result = _cli(chain, "audit-verify")
    assert result.exit_code == 1
    assert f"BROKEN at row id={rows[30]['id']}: its MAC does not match" in result.output


@pytest.mark.parametrize("removed", [1, 50])
def test_removing_the_newest_rows_is_caught_by_the_checkpoint(chain, removed):
    rows = _rows(chain)
    _sql(chain, ("DELETE FROM backoffice_audit_events WHERE id >= :i", {"i": rows[-removed]["id"]}),
         owner_bypass=True)
    result = _cli(chain, "audit-verify")
    assert result.exit_code == 1
    assert f"the chain ends at {60 - removed} row(s)" in result.output
    assert "recorded 60 row(s)" in result.output and "the newest rows were removed" in result.output


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_disabling_the_trigger_then_editing_is_caught(chain):
    target = _rows(chain)[5]["id"]
    _sql(chain, (f"ALTER TABLE backoffice_audit_events DISABLE TRIGGER {APPEND_ONLY_TRIGGER}", None),
         ("UPDATE backoffice_audit_events SET actor = 'someone else' WHERE id = :i", {"i": target}),
         (f"ALTER TABLE backoffice_audit_events ENABLE TRIGGER {APPEND_ONLY_TRIGGER}", None))
    result = _cli(chain, "audit-verify")
    assert result.exit_code == 1 and f"row id={target}" in result.output


def test_a_forged_checkpoint_line_is_refused(chain, tmp_path):
    path = tmp_path / "instance" / "audit-checkpoints.jsonl"
    line = json.loads(path.read_text().splitlines()[-1])
    line["count"] = 10
    path.write_text(path.read_text() + json.dumps(line) + "\n")
    result = _cli(chain, "audit-verify")
    assert result.exit_code == 1 and "checkpoint refused: its MAC does not match" in result.output


def test_rotation_old_rows_verify_with_the_retired_key_and_unknown_keys_are_named(app, db_url, tmp_path):
    old, new = "old:" + "o" * 40, "new:" + "n" * 40
    _write(app, 2)  # signed with the generated instance key
    generated = (tmp_path / "instance" / "audit-signing.key").read_text().strip()
    assert stat.S_IMODE(os.stat(tmp_path / "instance" / "audit-signing.key").st_mode) == 0o600
    from console.app import create_app

    console = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING",
                          "AUDIT_SIGNING_KEY": old, "AUDIT_SIGNING_KEYS_OLD": generated})
    _write(console, 1)
    console = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING",
                          "AUDIT_SIGNING_KEY": new, "AUDIT_SIGNING_KEYS_OLD": f"{old},{generated}"})
    _write(console, 1)
    assert [r["key_id"] for r in _rows(db_url)][-2:] == ["old", "new"]
    ok = _cli(db_url, "audit-verify", AUDIT_SIGNING_KEY=new, AUDIT_SIGNING_KEYS_OLD=f"{old},{generated}")
    assert ok.exit_code == 0, ok.output
    missing = _cli(db_url, "audit-verify", AUDIT_SIGNING_KEY=new, AUDIT_SIGNING_KEYS_OLD=generated)
    assert missing.exit_code == 1 and "key id 'old', which is not configured" in missing.output
