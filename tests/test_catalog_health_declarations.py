"""Health checks are declared in the file: custom checks on any table, overrides,
and start-up validation with exact messages and stable ids (E050-E057)."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from console.app import create_app
from backoffice.catalog import catalog_health
from backoffice.core.declarations import DeclarationError

from tests.conftest import shared_fixture


@pytest.fixture
def build(sqlite_demo_url, tmp_path, monkeypatch):
    """build(toml) -> app on a fresh SQLite demo catalog with that declarative file."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "backoffice.toml"

    def factory(toml: str, url: str = sqlite_demo_url):
        path.write_text(toml, encoding="utf-8")
        return create_app({"DATABASE_URL": url, "SECRET_KEY": "k", "LOG_LEVEL": "ERROR",
                           "BACKOFFICE_CONFIG": str(path)})

    factory.path = path
    factory.url = sqlite_demo_url
    return factory


def _problems(build, toml: str) -> list[str]:
    with pytest.raises(DeclarationError) as caught:
        build(toml)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("toml, option, message", [
    ('[health.x]\ntable = "movies"', "health.x.kind",
     "a check needs a kind; expected one of: 'coverage', 'duplicates', 'missing', 'stale' [backoffice.E050]"),
    ('[health.x]\nkind = "missing"', "health.x.fields", "a missing check needs 'fields' [backoffice.E050]"),
    ('[health.x]\nkind = "misssing"\nfields = ["overview"]', "health.x.kind",
     "unknown check kind 'misssing'; did you mean 'missing'? [backoffice.E051]"),
    ('[health.x]\nkind = "missing"\nfields = ["overview"]\nrelated = "movie_credits"', "health.x.related",
     "'related' does not apply to a missing check; it applies to: coverage [backoffice.E052]"),
    ('[health.x]\nkind = "missing"\ntable = "movie"\nfields = ["overview"]', "health.x.table",
     "'movie' is not a reflected table or view; did you mean 'movies'? [backoffice.E053]"),
    ('[health.x]\nkind = "coverage"\nrelated = "movie_credit"', "health.x.related",
     "'movie_credit' is not a reflected table or view; did you mean 'movie_credits'? [backoffice.E053]"),
    ('[health.x]\nkind = "missing"\nfields = ["overview", "overviw"]', "health.x.fields[1]",
     "'overviw' is not a column of 'movies'; did you mean 'overview'? [backoffice.E054]"),
    ('[health.x]\nkind = "coverage"\nrelated = "movie_credits"\nwhere = { jobb = "Director" }', "health.x.where.jobb",
     "'jobb' is not a column of 'movie_credits'; did you mean 'job'? [backoffice.E054]"),
    ('[health.x]\nkind = "stale"\ncolumn = "tmdb_sync_at"', "health.x.column",
     "'tmdb_sync_at' is not a column of 'movies'; did you mean 'tmdb_synced_at'? [backoffice.E054]"),
    ('[health.x]\nkind = "duplicates"\nkey = ["lowercase(title)"]', "health.x.key[0]",
     "cannot read 'lowercase(title)': unknown function 'lowercase'; did you mean 'lower'? [backoffice.E055]"),
    ('[health.x]\nkind = "duplicates"\nkey = ["lower(title, 2)"]', "health.x.key[0]",
     "cannot read 'lower(title, 2)': expected a column name, optionally inside lower(...), upper(...), trim(...), "
     "year(...) [backoffice.E055]"),
    ('[health.x]\nkind = "coverage"\nrelated = "genres"', "health.x.related",
     "'genres' has no foreign key to 'movies'; name the column with via = \"...\" [backoffice.E056]"),
    ('[health.x]\nkind = "missing"\nfields = ["overview"]\nmatch = "some"', "health.x.match",
     "match must be 'any' or 'all', not 'some' [backoffice.E057]"),
    ('[health.stale_tmdb]\ndays = 0', "health.stale_tmdb.days", "days must be at least 1, not 0 [backoffice.E057]"),
    ('[health.x]\nkind = "missing"\nfeilds = ["overview"]', "health.x.feilds",
     "unknown option 'feilds'; did you mean 'fields'? [backoffice.E004]"),
])
def test_each_problem_has_an_exact_message(build, toml, option, message):
    problems = _problems(build, toml)
    assert f"{build.path}: {option}: {message}" in problems, problems


def test_all_problems_are_reported_together(build):
    problems = _problems(build, '[health.a]\nkind = "nope"\n[health.b]\nkind = "missing"\nfields = ["x"]\n')
    assert [p.rsplit("[", 1)[1] for p in problems] == ["backoffice.E051]", "backoffice.E054]"]


def test_custom_checks_on_other_tables_are_exact(build):
    app = build('''
[health.people_without_tmdb]
kind = "missing"
table = "people"
fields = ["tmdb_person_id"]
label = "People without a TMDB id"

[health.people_never_directing]
kind = "coverage"
table = "people"
related = "movie_credits"
where = { job = ["Director"], credit_type = "crew" }

[health.directors_sharing_a_name]
kind = "duplicates"
table = "people"
key = ["upper(name)"]

[health.reviews_pending_forever]
kind = "stale"
table = "tmdb_match_reviews"
column = "updated_at"
days = 30
''')
    report = catalog_health(app).report(cached=False)
    engine = create_engine(build.url)
    with engine.connect() as conn:
        def count(sql: str) -> int:
            return conn.execute(text(sql)).scalar()

        expected = {
            "people_without_tmdb": count("SELECT count(*) FROM people WHERE tmdb_person_id IS NULL"),
            "people_never_directing": count("SELECT count(*) FROM people p WHERE NOT EXISTS (SELECT 1 FROM "
                                            "movie_credits c WHERE c.person_id = p.id AND c.job = 'Director')"),
            "directors_sharing_a_name": count("SELECT sum(n) FROM (SELECT count(*) n FROM people "
                                              "GROUP BY upper(name) HAVING count(*) > 1)"),
            "reviews_pending_forever": count("SELECT count(*) FROM tmdb_match_reviews "
                                             "WHERE updated_at < datetime('now', '-30 days')"),
        }
        totals = {"people": count("SELECT count(*) FROM people"),
                  "tmdb_match_reviews": count("SELECT count(*) FROM tmdb_match_reviews")}
    engine.dispose()
    for name, value in expected.items():
        result = report.get(name)
        assert value > 0 and result.count == value, name
        assert result.total == totals[result.check.table]
    assert report.get("people_without_tmdb").check.title == "People without a TMDB id"
    assert len(report.results) == 13 + 4  # the defaults still apply: the file extends them


def test_defaults_can_be_tuned_and_disabled(build, demo_counts):
    app = build('[health.stale_tmdb]\ndays = 100000\n\n[health.no_keyword]\nenabled = false\n')
    report = catalog_health(app).report(cached=False)
    assert report.get("no_keyword") is None
    assert report.get("stale_tmdb").count == demo_counts.never_synced
    assert report.get("no_cast").count == demo_counts.no_cast
    client = app.test_client()
    assert "check-no_keyword" not in client.get("/admin/catalog-health/").get_data(as_text=True)


def test_a_default_name_with_another_kind_replaces_the_default(build):
    app = build('[health.no_genre]\nkind = "missing"\nfields = ["original_language"]\n')
    check = catalog_health(app).checks["no_genre"]
    assert (check.kind, check.fields, check.related) == ("missing", ("original_language",), None)


def test_without_a_movie_schema_there_are_no_default_checks(build, tmp_path):
    import shutil

    copy = tmp_path / "chinook.sqlite"
    shutil.copyfile(shared_fixture("chinook/Chinook_Sqlite.sqlite"), copy)
    app = build('', url=f"sqlite:///{copy}")
    assert catalog_health(app).checks == {}
    response = app.test_client().get("/admin/catalog-health/")
    assert response.status_code == 200
    assert "No catalog-health checks are declared" in response.get_data(as_text=True)
    app = build('[health.tracks_without_composer]\nkind = "missing"\ntable = "Track"\nfields = ["Composer"]\n',
                url=f"sqlite:///{copy}")
    result = catalog_health(app).report(cached=False).get("tracks_without_composer")
    assert result.status == "ok" and result.count == 977  # Chinook: 977 of 3,503 tracks have no composer
    assert result.total == 3503


def test_backoffice_check_lists_health_problems(build, monkeypatch):
    from click.testing import CliRunner

    from console.cli import main

    build.path.write_text('[health.x]\nkind = "coverage"\nrelated = "movie_credits"\nvia = "movie"\n')
    monkeypatch.setenv("DATABASE_URL", build.url)
    monkeypatch.setenv("BACKOFFICE_CONFIG", str(build.path))
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1
    assert (f"ERROR: {build.path}: health.x.via: 'movie' is not a column of 'movie_credits'; "
            f"did you mean 'movie_id'? [backoffice.E054]") in result.output


def test_the_cache_expires_refreshes_and_computes_once_for_concurrent_requests():
    import threading
    import time

    from backoffice.catalog.cache import TTLCache

    now = [0.0]
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    cache = TTLCache(10, clock=lambda: now[0])
    assert cache.get("all", compute) == 1
    now[0] = 9.9
    assert cache.get("all", compute) == 1
    now[0] = 10.1
    assert cache.get("all", compute) == 2
    now[0] = 10.2
    assert cache.get("all", compute, refresh=True) == 3
    assert cache.get("other", compute) == 4

    slow_calls: list[int] = []

    def slow() -> int:
        slow_calls.append(1)
        time.sleep(0.3)
        return 42

    real = TTLCache(60)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(real.get("all", slow, refresh=True)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [42] * 4 and len(slow_calls) == 1  # the waiting requests reuse the fresh figures
