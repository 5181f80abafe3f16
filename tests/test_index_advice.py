"""Index advice on a real PostgreSQL: exactly the missing indexes, nothing once they exist,
``--apply`` creates only the chosen ones, and a contains-search is served by its trigram index."""
from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest
from sqlalchemy.dialects import postgresql

from console.cli import main
from backoffice.demo.schema import HEALTH_INDEXES

from tests.conftest import outside_sql

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]

DEMO_CONFIG = str(Path(__file__).resolve().parent.parent / "backoffice" / "demo" / "demo.toml")
#: Tables of 1,500 rows or more in the test catalog: movies, movie_credits, movie_genres, movie_keywords.
MIN_ROWS = "1500"
#: What the demo file's screens and the default health checks need there and the
#: demo schema lacks once the catalog-health indexes are gone.
EXPECTED = {
    "ix_movies_original_language", "ix_movies_tmdb_synced_at",  # declared filters
    "ix_movies_title_trgm", "ix_movies_original_title_trgm", "ix_movies_imdb_id_trgm",  # declared search
    "ix_movies_title_release_date_expr",  # duplicate_title_year's key
    "ix_movie_credits_credit_type", "ix_movie_credits_job",  # declared filters
    "ix_movie_credits_job_trgm", "ix_movie_credits_character_name_trgm",  # declared search
    "ix_movie_credits_movie_id_cast_cov", "ix_movie_credits_movie_id_director_cov",  # no_cast, no_director
}


@pytest.fixture
def console(make_app):
    return make_app(BACKOFFICE_CONFIG=DEMO_CONFIG)


def _advice(app) -> tuple[int, dict[str, dict]]:
    result = app.test_cli_runner().invoke(main, ["indexes", "--min-rows", MIN_ROWS, "--json", "--no-measure"])
    assert result.exit_code in (0, 1), result.output
    tables = json.loads(result.stdout)
    return result.exit_code, {m["name"]: {**m, "table": t["table"], "invalid": t["invalid"]}
                              for t in tables for m in t["missing"]}


def _indexes(app) -> set[str]:
    return {r["indexname"] for r in outside_sql(app, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}


def _drop_health_indexes(app) -> None:
    outside_sql(app, "DROP INDEX " + ", ".join(HEALTH_INDEXES))


def test_the_seeded_health_indexes_serve_the_health_checks(console):
    _code, missing = _advice(console)
    assert not any(m["operation"].startswith("health check") for m in missing.values())
    assert set(missing) == EXPECTED - {"ix_movies_title_release_date_expr", "ix_movie_credits_movie_id_cast_cov",
                                       "ix_movie_credits_movie_id_director_cov"}


def test_advice_lists_exactly_the_missing_indexes_and_nothing_once_they_exist(console):
    _drop_health_indexes(console)
    code, missing = _advice(console)
    assert code == 1 and set(missing) == EXPECTED
    assert missing["ix_movies_title_trgm"]["statement"] == \
        "CREATE INDEX CONCURRENTLY ix_movies_title_trgm ON movies USING gin (title gin_trgm_ops)"
    assert missing["ix_movie_credits_movie_id_director_cov"]["statement"] == \
        "CREATE INDEX CONCURRENTLY ix_movie_credits_movie_id_director_cov ON movie_credits (movie_id) " \
        "WHERE job = 'Director'"
    before = _indexes(console)

    chosen = console.test_cli_runner().invoke(main, ["indexes", "--min-rows", MIN_ROWS,
                                                     "--apply", "ix_movies_title_trgm",
                                                     "--apply", "ix_movie_credits_movie_id_director_cov"])
    assert chosen.exit_code == 0, chosen.output
    assert "[1/2] CREATE INDEX CONCURRENTLY ix_movies_title_trgm" in chosen.stdout
    assert _indexes(console) - before == {"ix_movies_title_trgm", "ix_movie_credits_movie_id_director_cov"}
    _code, still = _advice(console)
    assert set(still) == EXPECTED - {"ix_movies_title_trgm", "ix_movie_credits_movie_id_director_cov"}

    everything = console.test_cli_runner().invoke(main, ["indexes", "--min-rows", MIN_ROWS, "--apply", "all"])
    assert everything.exit_code == 0, everything.output
    assert _indexes(console) - before == EXPECTED
    code, none = _advice(console)
    assert code == 0 and none == {}
    plain = console.test_cli_runner().invoke(main, ["indexes", "--min-rows", MIN_ROWS, "--no-measure"])
    assert "0 index(es) missing" in plain.stdout


def test_nothing_is_created_without_apply_and_an_unknown_name_is_refused(console):
    _drop_health_indexes(console)
    before = _indexes(console)
    listed = console.test_cli_runner().invoke(main, ["indexes", "--min-rows", MIN_ROWS, "--measure-timeout", "5"])
    assert listed.exit_code == 1
    assert "s without it" in listed.stdout  # each missing index with the measured cost of its operation
    refused = console.test_cli_runner().invoke(main, ["indexes", "--min-rows", MIN_ROWS, "--apply", "ix_nope"])
    assert refused.exit_code == 2 and "'ix_nope' is not a missing index" in refused.output
    assert _indexes(console) == before


def test_an_invalid_index_left_by_a_failed_build_is_reported_and_replaced(console):
    # A unique build over duplicate values fails and leaves an INVALID index behind.
    conn = psycopg2.connect(console.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg2", ""))
    conn.autocommit = True
    with pytest.raises(psycopg2.errors.UniqueViolation), conn.cursor() as cursor:
        cursor.execute("CREATE UNIQUE INDEX CONCURRENTLY ix_movies_original_language ON movies (original_language)")
    conn.close()
    _code, missing = _advice(console)
    assert "ix_movies_original_language" in missing
    assert missing["ix_movies_original_language"]["invalid"] == ["ix_movies_original_language"]
    done = console.test_cli_runner().invoke(main, ["indexes", "--min-rows", MIN_ROWS,
                                                   "--apply", "ix_movies_original_language"])
    assert done.exit_code == 0, done.output
    assert "dropping the invalid index" in done.stdout
    valid = outside_sql(console, "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                 "WHERE c.relname = 'ix_movies_original_language'")
    assert [r["indisvalid"] for r in valid] == [True]


def test_the_list_search_is_served_by_trigram_indexes(console):
    for name in ("ix_movies_title_trgm", "ix_movies_original_title_trgm", "ix_movies_imdb_id_trgm"):
        result = console.test_cli_runner().invoke(main, ["indexes", "--min-rows", MIN_ROWS, "--apply", name])
        assert result.exit_code == 0, result.output
    view = next(v for v in console.extensions["backoffice.admin"]._views if getattr(v, "screen", None) == "movies")
    with console.test_request_context("/admin/movies/?search=harbor"):
        _count, query = view.get_list(0, None, False, "harbor", [], execute=False, page_size=0)
        sql = str(query.statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        engine = console.extensions["backoffice.db"].engine
    with engine.connect() as conn:
        # Whole-table plans off: what remains is what an index can serve of this very query.
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_indexscan = off")
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
        conn.rollback()
    for name in ("ix_movies_title_trgm", "ix_movies_original_title_trgm", "ix_movies_imdb_id_trgm"):
        assert f"Bitmap Index Scan on {name}" in plan, plan


def test_the_schema_report_shows_the_same_advice(console):
    _drop_health_indexes(console)
    _code, missing = _advice(console)
    view = next(v for v in console.extensions["backoffice.admin"]._views if v.endpoint == "schema_report")
    view.index_min_rows = int(MIN_ROWS)
    html = console.test_client().get("/admin/schema-report/").get_data(as_text=True)
    shown = set(re.findall(r'<tr data-index="([^"]+)">', html))
    assert shown == set(missing) == EXPECTED
    assert "CREATE INDEX CONCURRENTLY ix_movies_title_trgm ON movies USING gin (title gin_trgm_ops);" in html
