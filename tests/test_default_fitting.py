"""Built-in defaults (the catalog-health checks, the TMDB queue) on catalogs that name things
differently: they adapt to an obvious variant and say so, or step aside and say why;
they never stop start-up. What a maintainer wrote still fails start-up precisely."""
from __future__ import annotations

import logging
import sqlite3

import pytest
from click.testing import CliRunner

from backoffice.catalog import catalog_health
from backoffice.core.declarations import DeclarationError
from console.app import create_app
from console.cli import main


def _alter(url: str, *statements: str) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        for statement in statements:
            conn.execute(statement)


def _app(url, **env):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"} | env)
    app.config["TESTING"] = True
    return app


def test_queue_and_checks_adapt_to_obvious_column_variants(sqlite_demo_url, monkeypatch, tmp_path, caplog):
    monkeypatch.chdir(tmp_path)
    _alter(sqlite_demo_url,
           "ALTER TABLE tmdb_match_reviews RENAME COLUMN match_score TO score",
           "ALTER TABLE tmdb_match_reviews RENAME COLUMN decision_note TO note",
           "ALTER TABLE tmdb_match_reviews RENAME COLUMN candidate_release_date TO candidate_year",
           "ALTER TABLE movie_credits RENAME COLUMN credit_type TO role",
           "DROP INDEX IF EXISTS ix_movie_credits_director",
           "ALTER TABLE movie_credits DROP COLUMN job")
    with caplog.at_level(logging.INFO):
        app = _app(sqlite_demo_url, LOG_LEVEL="INFO")  # E071 about the default queue used to stop start-up here
    client = app.test_client()
    queue = client.get("/admin/review-queue/")
    # the renamed column is shown, and compared with the movie's release date
    assert queue.status_code == 200 and "Release date" in queue.get_data(as_text=True)
    used = " ".join(r.getMessage() for r in caplog.records if "uses" in r.getMessage())
    assert "tmdb_match_reviews.candidate_year shown for candidate_release_date" in used
    assert "tmdb_match_reviews.score for match_score" in used and "tmdb_match_reviews.note for decision_note" in used
    checks = catalog_health(app).checks
    assert checks["no_cast"].where == (("role", "cast"),) and checks["no_cast"].adapted == (
        "movie_credits.role for credit_type",)
    assert checks["no_director"].adapted == ("movie_credits.role for job",)
    page = client.get("/admin/catalog-health/").get_data(as_text=True)
    assert "uses movie_credits.role for credit_type" in page  # the page says which column it used


def test_a_default_that_cannot_fit_is_switched_off_listed_and_scaffolded(sqlite_demo_url, monkeypatch, tmp_path,
                                                                         caplog):
    monkeypatch.chdir(tmp_path)
    _alter(sqlite_demo_url,
           "ALTER TABLE tmdb_match_reviews RENAME COLUMN status TO phase",
           "ALTER TABLE movies RENAME COLUMN tmdb_synced_at TO tmdb_synced")
    with caplog.at_level(logging.WARNING):
        app = _app(sqlite_demo_url)
    off = [r.getMessage() for r in caplog.records if "not applicable" in r.getMessage()]
    assert len(off) == 2  # logged once each: the queue, the checks (one line for all of them)
    assert "queues.tmdb_matches: not applicable: 'tmdb_match_reviews' has no status column" in off[0] + off[1]
    client = app.test_client()
    assert client.get("/admin/review-queue/").status_code == 404  # no queue, and start-up went on
    report = client.get("/admin/schema-report/").get_data(as_text=True)
    assert 'id="default-queues-tmdb_matches"' in report and 'id="default-health-stale_tmdb"' in report
    assert "[queues.tmdb_matches]" in report and 'status = &#34;phase&#34;' in report  # the guessed column
    health = client.get("/admin/catalog-health/").get_data(as_text=True)
    assert 'id="not-applicable-stale_tmdb"' in health and "not applicable: &#39;tmdb_synced_at&#39;" in health
    assert 'column = &#34;tmdb_synced&#34;' in health  # the declaration, with the column guessed

    env = {"DATABASE_URL": sqlite_demo_url, "SECRET_KEY": "k"}
    checked = CliRunner().invoke(main, ["check"], env=env)
    assert checked.exit_code == 0, checked.output
    assert "queues.tmdb_matches: not applicable: 'tmdb_match_reviews' has no status column" in checked.output
    assert "health.stale_tmdb: not applicable" in checked.output and '      column = "tmdb_synced"' in checked.output

    scaffolded = CliRunner().invoke(main, ["scaffold", "-o", str(tmp_path / "starter.toml")], env=env)
    assert scaffolded.exit_code == 0, scaffolded.output
    text = (tmp_path / "starter.toml").read_text(encoding="utf-8")
    assert "# [queues.tmdb_matches]" in text and '# status = "phase"' in text
    uncommented = "\n".join(line[2:] for line in text.split("## queues.tmdb_matches", 1)[1].splitlines()[1:]
                            if line.startswith("# ")).split("\n[health", 1)[0]
    (tmp_path / "queue.toml").write_text(uncommented, encoding="utf-8")
    enabled = _app(sqlite_demo_url, BACKOFFICE_CONFIG=str(tmp_path / "queue.toml"))  # the declaration works
    assert enabled.test_client().get("/admin/review-queue/").status_code == 200


def test_what_the_maintainer_wrote_still_fails_start_up_precisely(sqlite_demo_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    _alter(sqlite_demo_url, "ALTER TABLE tmdb_match_reviews RENAME COLUMN match_score TO score")
    path = tmp_path / "backoffice.toml"
    path.write_text('[queues.tmdb]\ntable = "tmdb_match_reviews"\n'
                    'actions.reject = { from = ["pending"], to = "rejected" }\n', encoding="utf-8")
    with pytest.raises(DeclarationError) as failed:
        _app(sqlite_demo_url, BACKOFFICE_CONFIG=str(path))
    assert "queues.tmdb.score: 'match_score' is not a column of 'tmdb_match_reviews'" in str(failed.value)
    path.write_text('[health.stale_tmdb]\ncolumn = "tmdb_synced"\n', encoding="utf-8")
    with pytest.raises(DeclarationError) as failed:
        _app(sqlite_demo_url, BACKOFFICE_CONFIG=str(path))
    assert "health.stale_tmdb.column: 'tmdb_synced' is not a column of 'movies'" in str(failed.value)


def test_the_demo_catalog_fits_every_default(sqlite_demo_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    app = _app(sqlite_demo_url)
    assert catalog_health(app).not_applicable == [] and len(catalog_health(app).checks) == 13
    assert not any(check.adapted for check in catalog_health(app).checks.values())
    assert "not applicable" not in app.test_client().get("/admin/schema-report/").get_data(as_text=True)
