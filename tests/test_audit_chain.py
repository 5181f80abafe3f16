"""The audit trail is a hash chain: verify names the first tampered row; PostgreSQL keeps it linear."""
from __future__ import annotations

import re
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from audit_hooks import audit_action
from console.cli import main
from backoffice.core.settings import normalise_database_url
from models.own import APPEND_ONLY_TRIGGER, init_db


def _write(app, n, prefix="chain"):
    Genre = app.extensions["backoffice.reflection"].tables["genres"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        for i in range(n):
            with audit_action("test.write", reason=f"{prefix} {i}"):
                db.session.add(Genre(name=f"{prefix} {i}", tmdb_genre_id=i))
            db.session.commit()


def _verify(db_url):
    return CliRunner().invoke(main, ["audit-verify"], env={"DATABASE_URL": db_url})


def test_verify_passes_then_names_the_first_changed_row(app, db_url):
    _write(app, 5)
    ok = _verify(db_url)
    assert ok.exit_code == 0, ok.output
    assert "audit chain verified: 5 row(s), no break" in ok.output

    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as connection:
        third = connection.execute(text("SELECT id FROM backoffice_audit_events ORDER BY id LIMIT 1 OFFSET 2")).scalar()
        if engine.dialect.name == "postgresql":  # what a superuser could do
            connection.execute(text(f"ALTER TABLE backoffice_audit_events DISABLE TRIGGER {APPEND_ONLY_TRIGGER}"))
        connection.execute(text("UPDATE backoffice_audit_events SET reason = 'nothing to see' WHERE id = :i"),
                           {"i": third})
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"ALTER TABLE backoffice_audit_events ENABLE TRIGGER {APPEND_ONLY_TRIGGER}"))
    engine.dispose()
    broken = _verify(db_url)
    assert broken.exit_code == 1
    assert f"audit chain BROKEN at row id={third}: its content does not match its row_hash" in broken.output
    assert "(2 row(s) before it verify)" in broken.output


def test_verify_names_the_row_after_a_deleted_one(app, db_url):
    _write(app, 4)
    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as connection:
        ids = connection.execute(text("SELECT id FROM backoffice_audit_events ORDER BY id")).scalars().all()
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET session_replication_role = replica"))  # superuser: triggers off
        connection.execute(text("DELETE FROM backoffice_audit_events WHERE id = :i"), {"i": ids[1]})
    engine.dispose()
    broken = _verify(db_url)
    assert broken.exit_code == 1
    assert f"row id={ids[2]}: its prev_hash does not match" in broken.output


@pytest.mark.postgres
def test_postgresql_trigger_rejects_update_and_delete_and_init_db_is_idempotent(pg_demo_url):
    engine = create_engine(normalise_database_url(pg_demo_url))
    try:
        assert init_db(engine) == []  # the template already has table and trigger
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO backoffice_audit_events (occurred_at, actor, actor_role, action, entity_type, entity_id,"
                " changes, prev_hash, row_hash) VALUES (now(), 'a', 'admin', 'x', 't', '1', '{}', 'p', 'r')"))
        for statement in ("UPDATE backoffice_audit_events SET actor = 'b'", "DELETE FROM backoffice_audit_events",
                          "TRUNCATE backoffice_audit_events"):
            with pytest.raises(Exception, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM backoffice_audit_events")).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_concurrent_writers_never_fork_the_chain(db_url, make_app):
    pg_demo_url = db_url
    app = make_app()
    Genre = app.extensions["backoffice.reflection"].tables["genres"].model
    errors: list[BaseException] = []

    def worker(n):
        try:
            with app.app_context():
                db = app.extensions["backoffice.db"]
                for i in range(6):
                    db.session.add(Genre(name=f"t{n}-{i}", tmdb_genre_id=n * 100 + i))
                    if i % 2:
                        db.session.get(Genre, 1).name = f"renamed by {n}-{i}"
                    db.session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = create_engine(normalise_database_url(pg_demo_url))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM backoffice_audit_events")).scalar() == 8 * 6 + 8 * 3
        forks = connection.execute(text(
            "SELECT count(*) FROM (SELECT prev_hash FROM backoffice_audit_events GROUP BY prev_hash "
            "HAVING count(*) > 1) AS f")).scalar()
        assert forks == 0
    engine.dispose()
    result = _verify(pg_demo_url)
    assert result.exit_code == 0 and "72 row(s)" in result.output


def test_start_up_creates_a_missing_audit_table(tmp_path, monkeypatch, caplog):
    from sqlalchemy import inspect

    from console.app import create_app
    from backoffice.demo import seed_demo

    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'bare.sqlite'}"
    engine = create_engine(url)
    seed_demo(engine, movies=20, seed=1)
    assert "backoffice_audit_events" not in inspect(engine).get_table_names()
    with caplog.at_level("WARNING", logger="audit_hooks"):
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    assert re.search(r"created the console's own tables: [^\n]*backoffice_audit_events", caplog.text)
    assert "backoffice_audit_events" in inspect(engine).get_table_names()
    engine.dispose()
    _write(app, 1)
    assert _verify(url).exit_code == 0
