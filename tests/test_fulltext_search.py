"""A declared full-text column is searched with its index: Pagila's film.fulltext on a real
PostgreSQL (the words of a description find the film, stemmed; the plan uses the index),
``backoffice check`` refuses what cannot work, and SQLite falls back to contains-search."""
from __future__ import annotations

import json
import re

import psycopg2
import pytest
from sqlalchemy import create_engine as sa_create_engine, event, text

from backoffice.core.declarations import DeclarationError, check_all, load_declarations
from console.app import console_rules, create_app
from console.cli import main

from tests.conftest import outside_sql, shared_fixture

# The trigger fills fulltext from title and description with the english configuration.
ROWS = """
INSERT INTO language (language_id, name) VALUES (1, 'English');
INSERT INTO film (film_id, title, description, release_year, language_id, rental_rate, rating)
VALUES (1, 'ACADEMY DINOSAUR', 'A Epic Drama of a Feminist And a Mad Scientist who must Battle a Teacher', 2006, 1, 0.99, 'PG'),
       (2, 'ACE GOLDFINGER', 'A Astounding Epistle of a Database Administrator And a Explorer', 2006, 1, 4.99, 'G'),
       (3, 'ADAPTATION HOLES', 'A Astounding Reflection of a Lumberjack And a Car who must Sink a Lumberjack', 2006, 1, 2.99, 'R');
ANALYZE film;
"""

FILE = """
[views.film]
fulltext = "fulltext"
fulltext_config = "english"
never_show = ["fulltext"]
list = ["title", "description"]
"""


@pytest.fixture(scope="module")
def pagila_url(pg_server):
    url = pg_server.create_database("pagila_fulltext")
    conn = psycopg2.connect(host="127.0.0.1", port=pg_server.port, user="postgres", dbname="pagila_fulltext")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(shared_fixture("pagila/pagila-schema.sql").read_text(encoding="utf-8"))
            cursor.execute("SET search_path = public")
            cursor.execute(ROWS)
    finally:
        conn.close()
    yield url
    pg_server.admin_sql('DROP DATABASE IF EXISTS "pagila_fulltext" WITH (FORCE)')


def _app(url, tmp_path, monkeypatch, body=FILE):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "backoffice.toml"
    config.write_text(body, encoding="utf-8")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", "LOG_LEVEL": "ERROR",
                      "BACKOFFICE_CONFIG": str(config)})
    app.config["TESTING"] = True
    return app, config


def _titles(page: str) -> set[str]:
    return set(re.findall(r"A[A-Z]+ [A-Z]+(?=\s*<)", page)) & {"ACADEMY DINOSAUR", "ACE GOLDFINGER", "ADAPTATION HOLES"}


def _problems(app, config) -> list[str]:
    problems = check_all(load_declarations(config), app.extensions["backoffice.reflection"], console_rules())
    return [f"{p.id} {p.option}" for p in problems]


@pytest.mark.postgres
def test_a_word_of_the_description_finds_the_film_through_the_index(pagila_url, tmp_path, monkeypatch):
    app, config = _app(pagila_url, tmp_path, monkeypatch)
    assert _problems(app, config) == ["backoffice.W012 views.film.never_show[0]"]  # the trigger fills it
    client = app.test_client()
    statements: list[tuple[str, dict]] = []
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
    listen = lambda conn, cursor, sql, params, context, many: statements.append((sql, params))  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        # "epistles" is nowhere in the text as written: only the stemmed vector matches it.
        page = client.get("/admin/film/?search=epistles").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert _titles(page) == {"ACE GOLDFINGER"}
    assert "Words (full text)" in client.get("/admin/film/").get_data(as_text=True)
    # What operators type into a search engine: all words, "or", -word; punctuation never fails.
    assert _titles(client.get("/admin/film/?search=astounding").get_data(as_text=True)) == {
        "ACE GOLDFINGER", "ADAPTATION HOLES"}
    assert _titles(client.get("/admin/film/?search=astounding -lumberjacks").get_data(as_text=True)) == {
        "ACE GOLDFINGER"}
    assert _titles(client.get("/admin/film/?search=epistle or scientist").get_data(as_text=True)) == {
        "ACE GOLDFINGER", "ACADEMY DINOSAUR"}
    with client.get("/admin/film/export/csv/?search=epistles") as response:  # export searches alike
        exported = response.get_data(as_text=True)  # closed: the streamed export's request ends here
    assert "ACE GOLDFINGER" in exported and "ACADEMY" not in exported and "ADAPTATION" not in exported
    odd = client.get("/admin/film/?search=%22%27%28%3A%26!%7C")
    assert odd.status_code == 200 and _titles(odd.get_data(as_text=True)) == set()

    searched = [(sql, params) for sql, params in statements if "@@" in sql and "websearch_to_tsquery" in sql]
    assert searched, "the list page did not search with the full-text column"
    sql, params = searched[0]
    raw = sa_create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with raw.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")  # three rows: make the planner show its choice
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql, params))
    finally:
        raw.dispose()
    assert "film_fulltext_idx" in plan, plan


@pytest.mark.postgres
def test_index_advice_proposes_a_gin_index_when_the_column_has_none(pagila_url, tmp_path, monkeypatch):
    app, _config = _app(pagila_url, tmp_path, monkeypatch)

    def advice() -> dict[str, str]:
        result = app.test_cli_runner().invoke(main, ["indexes", "--min-rows", "1", "--json", "--no-measure"])
        assert result.exit_code in (0, 1), result.output
        return {m["name"]: m["statement"] for t in json.loads(result.stdout) for m in t["missing"]}

    assert not [n for n in advice() if n.endswith("_fts")]  # Pagila's GiST index serves it
    outside_sql(app, "DROP INDEX film_fulltext_idx")
    try:
        fts = {n: s for n, s in advice().items() if n.endswith("_fts")}
        assert fts == {"ix_film_fulltext_fts":
                       'CREATE INDEX CONCURRENTLY ix_film_fulltext_fts ON film USING gin (fulltext)'}
    finally:
        outside_sql(app, "CREATE INDEX film_fulltext_idx ON public.film USING gist (fulltext)")


@pytest.mark.postgres
def test_check_refuses_a_fulltext_column_that_cannot_work(pagila_url, tmp_path, monkeypatch):
    app, _config = _app(pagila_url, tmp_path, monkeypatch)
    config = tmp_path / "other.toml"
    config.write_text("""
[views.film]
fulltext = "fulltxt"
[views.actor]
fulltext = "last_name"
fulltext_config = "english; drop table actor"
[views.category]
fulltext = "name"
search = ["name"]
""", encoding="utf-8")
    problems = _problems(app, config)
    assert "backoffice.E033 views.film.fulltext" in problems
    assert "backoffice.E033 views.actor.fulltext" in problems and "backoffice.E033 views.actor.fulltext_config" in problems
    assert "backoffice.E033 views.category.fulltext" in problems
    config.write_text('[views.film]\nfulltext = "fulltext"\nsearch = ["title"]\n', encoding="utf-8")
    assert _problems(app, config) == ["backoffice.W017 views.film.search"]


def test_sqlite_has_no_fulltext_and_start_up_says_why(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'films.db'}"
    engine = sa_create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE film (film_id INTEGER PRIMARY KEY, title TEXT, fulltext TEXT)"))
        conn.execute(text("INSERT INTO film VALUES (1, 'ACE GOLDFINGER', 'epistl'), (2, 'ADAPTATION HOLES', '')"))
    engine.dispose()
    with pytest.raises(DeclarationError) as refused:
        _app(url, tmp_path, monkeypatch, body='[views.film]\nfulltext = "fulltext"\nsearch = ["title"]\n')
    assert re.search(r"views\.film\.fulltext: 'fulltext' is not a tsvector column .*PostgreSQL.*backoffice\.E033",
                     str(refused.value))
    # Without it the same file's contains-search serves the screen.
    app, _config = _app(url, tmp_path, monkeypatch, body='[views.film]\nsearch = ["title"]\n')
    page = app.test_client().get("/admin/film/?search=goldfinger").get_data(as_text=True)
    assert _titles(page) == {"ACE GOLDFINGER"}
