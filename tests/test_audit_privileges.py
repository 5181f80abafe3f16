"""Least privilege (PostgreSQL two-role set-up), start-up warnings, unaudited triggers in the
schema report, and a sentence of its own for each way the audit write can fail."""
from __future__ import annotations

import threading

import psycopg2
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from audit_hooks import AuditError, audit_action
from console.app import create_app
from console.cli import main
from backoffice.core.settings import normalise_database_url

from tests.conftest import outside_sql


def _superuser(url, *statements):
    engine = create_engine(normalise_database_url(url))
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def _as(url, user):
    return make_url(normalise_database_url(url)).set(username=user, password="pw").render_as_string(
        hide_password=False)


@pytest.fixture
def two_roles(pg_demo_url):
    """The target schema's tables usable by a console login that owns nothing of the audit trail."""
    _superuser(pg_demo_url,
               "DO $$ BEGIN CREATE ROLE bo_owner LOGIN PASSWORD 'pw'; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
               "DO $$ BEGIN CREATE ROLE bo_console LOGIN PASSWORD 'pw'; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
               "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO bo_console",
               "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO bo_console")
    return pg_demo_url


@pytest.mark.postgres
def test_init_db_hands_the_audit_table_to_an_owner_and_grants_the_console_insert_and_select_only(two_roles, tmp_path,
                                                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init-db", "--owner", "bo_owner", "--console-role", "bo_console"],
                                env={"DATABASE_URL": two_roles})
    assert result.exit_code == 0, result.output
    assert "bo_console may only: SELECT, INSERT on backoffice_audit_events" in result.output
    console_url = _as(two_roles, "bo_console")
    app = create_app({"DATABASE_URL": console_url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    assert app.extensions["backoffice.audit.powers"] == []
    assert "backoffice-audit-privileges" not in app.test_client().get("/admin/").get_data(as_text=True)
    Genre = app.extensions["backoffice.reflection"].tables["genres"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with audit_action("test.write"):
            db.session.add(Genre(name="least privilege", tmdb_genre_id=4242))
        db.session.commit()
    assert CliRunner().invoke(main, ["audit-verify"], env={"DATABASE_URL": console_url}).exit_code == 0
    connection = psycopg2.connect(normalise_database_url(console_url).replace("+psycopg2", ""))
    try:
        for statement in ("UPDATE backoffice_audit_events SET actor = 'x'", "DELETE FROM backoffice_audit_events",
                          "TRUNCATE backoffice_audit_events",
                          "ALTER TABLE backoffice_audit_events DISABLE TRIGGER USER"):
            with pytest.raises(psycopg2.Error) as refused:
                with connection.cursor() as cursor:
                    cursor.execute(statement)
            connection.rollback()
            assert refused.value.pgcode == "42501", (statement, refused.value)  # insufficient_privilege
    finally:
        connection.close()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_console_role_that_can_rewrite_the_audit_table_is_warned_about(app, caplog):
    powers = app.extensions["backoffice.audit.powers"]  # the tests connect as a superuser
    assert "UPDATE" in powers and "TRUNCATE" in powers and any("DISABLE TRIGGER" in p for p in powers)
    page = app.test_client().get("/admin/").get_data(as_text=True)
    assert "backoffice-audit-privileges" in page and "can rewrite history" in page


@pytest.mark.postgres
def test_a_refused_privilege_and_a_missing_table_each_have_their_own_sentence(two_roles, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _superuser(two_roles, "REVOKE INSERT ON backoffice_audit_events FROM bo_console",
               "GRANT SELECT ON backoffice_audit_events TO bo_console")
    app = create_app({"DATABASE_URL": _as(two_roles, "bo_console"), "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    Genre = app.extensions["backoffice.reflection"].tables["genres"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with pytest.raises(AuditError, match="refused the console's role the right to write the audit trail"):
            with audit_action("test.write"):
                db.session.add(Genre(name="refused", tmdb_genre_id=4243))
        db.session.rollback()
    _superuser(two_roles, "ALTER TABLE backoffice_audit_events RENAME TO gone")
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with pytest.raises(AuditError, match="backoffice_audit_events does not exist, so nothing was saved; create it "
                                             "with `backoffice init-db`"):
            with audit_action("test.write"):
                db.session.add(Genre(name="missing", tmdb_genre_id=4244))
        db.session.rollback()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_lock_timeout_on_the_chain_has_its_own_sentence(make_app, db_url):
    app = make_app(AUDIT_LOCK_TIMEOUT_MS="200")
    from audit_hooks.chain import CHAIN_LOCK_KEY

    holder = psycopg2.connect(normalise_database_url(db_url).replace("+psycopg2", ""))
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN; SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK_KEY,))
        Genre = app.extensions["backoffice.reflection"].tables["genres"].model
        with app.app_context():
            db = app.extensions["backoffice.db"]
            with pytest.raises(AuditError, match=r"the audit trail is busy: another change held its lock longer than "
                                                 r"the console waits \(AUDIT_LOCK_TIMEOUT_MS\)"):
                with audit_action("test.write"):
                    db.session.add(Genre(name="waits", tmdb_genre_id=4245))
            db.session.rollback()
    finally:
        holder.rollback()
        holder.close()


def test_the_database_errors_are_told_apart():
    from audit_hooks.errors import describe_database_error

    class Fake(Exception):
        def __init__(self, code, text):
            super().__init__(text)
            self.pgcode = code

    assert describe_database_error(Fake("40P01", "deadlock detected"))[0] == "deadlock"
    assert describe_database_error(Fake("55P03", "canceling statement due to lock timeout"))[0] == "lock timeout"
    assert describe_database_error(Fake("42P01", 'relation "x" does not exist'))[0] == "missing table"
    assert describe_database_error(Fake("42501", "permission denied for table x"))[0] == "refused privilege"
    assert "deadlock" in describe_database_error(Fake("40P01", "deadlock detected"))[1]


def test_triggers_that_write_other_tables_are_listed_in_the_schema_report(db_url, make_app):
    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE title_log (id INTEGER PRIMARY KEY, movie_id INTEGER, title TEXT)"))
        if engine.dialect.name == "postgresql":
            connection.execute(text(
                "CREATE FUNCTION log_title() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "INSERT INTO title_log (movie_id, title) VALUES (OLD.id, OLD.title); RETURN NEW; END $$"))
            connection.execute(text("CREATE TRIGGER movies_title_log AFTER UPDATE ON movies FOR EACH ROW "
                                    "EXECUTE FUNCTION log_title()"))
        else:
            connection.execute(text("CREATE TRIGGER movies_title_log AFTER UPDATE ON movies BEGIN "
                                    "INSERT INTO title_log (movie_id, title) VALUES (OLD.id, OLD.title); END"))
    engine.dispose()
    app = make_app()
    page = app.test_client().get("/admin/schema-report/").get_data(as_text=True)
    assert "trigger <code>movies_title_log</code> writes insert title_log: those changes have no audit row" in page
