"""Catalog health is exact: every figure equals the demo generator's planted counts,
on SQLite and PostgreSQL, on the page, in the CLI and in the service they share."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import event, text

from backoffice.catalog import catalog_health
from console.cli import main
from views.cells import formula_safe

#: check name -> DefectCounts field with the number of affected movies
EXPECTED = {
    "missing_overview": "missing_overview",
    "missing_poster": "missing_poster",
    "missing_release_date": "missing_release_date",
    "missing_runtime": "missing_runtime",
    "missing_any": "missing_any",
    "duplicate_imdb_id": "duplicate_imdb_id_movies",
    "duplicate_title_year": "duplicate_title_year_movies",
    "duplicate_tmdb_id": "duplicate_tmdb_id_movies",
    "stale_tmdb": "stale_tmdb",
    "no_cast": "no_cast",
    "no_director": "no_director",
    "no_genre": "no_genre",
    "no_keyword": "no_keyword",
}
GROUPS = {"duplicate_imdb_id": "duplicate_imdb_id_groups", "duplicate_title_year": "duplicate_title_year_groups"}


def test_every_check_equals_the_planted_defects(app, demo_counts):
    report = catalog_health(app).report(cached=False)
    assert [r.check.name for r in report.results] == list(EXPECTED)
    for name, field in EXPECTED.items():
        result = report.get(name)
        expected = getattr(demo_counts, field)
        assert result.count == expected, name
        assert result.total == demo_counts.movies, name
        assert result.share == pytest.approx(expected / demo_counts.movies), name
        assert expected > 0 or name == "duplicate_tmdb_id"
    for name, field in GROUPS.items():
        assert report.get(name).groups == getattr(demo_counts, field)
    assert report.get("duplicate_tmdb_id").status == "not applicable"
    assert report.get("duplicate_tmdb_id").message == "'tmdb_id' has a unique constraint"
    assert all(r.status == "ok" for r in report.results if r.check.name != "duplicate_tmdb_id")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_concurrent_checks_leave_no_idle_connections_behind(app, db_url):
    """The checks run on several connections at once; none of them stays open afterwards."""
    engine = catalog_health(app).engine
    engine.dispose()
    opened = []

    def count(*_args):
        opened.append(1)

    event.listen(engine, "connect", count)
    try:
        report = catalog_health(app).report(cached=False)
    finally:
        event.remove(engine, "connect", count)
    assert report.get("no_cast").status == "ok"
    assert len(opened) >= 3  # it did run on several connections at once
    observer = _engine(db_url)
    with observer.connect() as conn:
        still_open = conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    observer.dispose()
    assert still_open == 0


def test_samples_are_affected_rows_and_duplicate_samples_are_whole_groups(app):
    service = catalog_health(app)
    report = service.report(cached=False)
    for result in report.results:
        if result.status != "ok":
            continue
        exported = list(service.export(result.check.name))
        header, rows = exported[0], exported[1:]
        assert len(rows) == result.count, result.check.name  # the export lists every affected row
        ids = {row[header.index("id")] for row in rows}
        if result.check.kind == "duplicates":
            assert len(result.sample_groups) == min(5, result.groups)
            for group in result.sample_groups:
                assert group.size == len(group.members) >= 2
                assert {m.pk[0] for m in group.members} <= ids
        else:
            assert len(result.samples) == min(5, result.count)
            assert {s.pk[0] for s in result.samples} <= ids
            assert [s.pk[0] for s in result.samples] == sorted(ids)[:len(result.samples)]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_tmdb_id_without_unique_constraint_is_checked_for_duplicates(db_url, make_app):
    engine = _engine(db_url)
    with engine.begin() as conn:
        name = conn.execute(text("SELECT conname FROM pg_constraint WHERE conrelid = 'movies'::regclass "
                                 "AND contype = 'u'")).scalar()
        conn.execute(text(f'ALTER TABLE movies DROP CONSTRAINT "{name}"'))
        shared = conn.execute(text("SELECT tmdb_id FROM movies WHERE tmdb_id IS NOT NULL ORDER BY id LIMIT 1")).scalar()
        conn.execute(text("UPDATE movies SET tmdb_id = :t WHERE id IN (1998, 1999)"), {"t": shared})
    engine.dispose()
    result = catalog_health(make_app()).report(["duplicate_tmdb_id"], cached=False).get("duplicate_tmdb_id")
    assert (result.status, result.count, result.groups) == ("ok", 3, 1)
    assert {m.pk[0] for m in result.sample_groups[0].members} >= {1998, 1999}


def _engine(db_url: str):
    from sqlalchemy import create_engine

    from backoffice.core.settings import normalise_database_url

    return create_engine(normalise_database_url(db_url))


def _rows(html: str) -> dict[str, str]:
    """check name -> its <tr> on the overview."""
    return {m.group(1): m.group(0) for m in re.finditer(r'<tr id="check-(\w+)".*?</tr>', html, flags=re.S)}


def test_the_overview_page_shows_the_same_figures(client, demo_counts):
    response = client.get("/admin/catalog-health/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = _rows(html)
    assert set(rows) == set(EXPECTED)
    for name, field in EXPECTED.items():
        expected = getattr(demo_counts, field)
        if name == "duplicate_tmdb_id":
            assert "not applicable" in rows[name]
            continue
        count = re.search(r'class="text-right health-count">\s*([^<\s]+)', rows[name]).group(1)
        assert count == f"{expected:,}", name
        assert f"{expected / demo_counts.movies * 100:.2f}&nbsp;%" in rows[name]
        assert "<svg class=\"health-bar\"" in rows[name]
        assert '<a href="/admin/movies/details/?id=' in rows[name]  # samples link to the movie's screen
    assert "Computed at" in html
    # read-only: the only form is the refresh button (besides the top bar's "jump to" search, a GET)
    jump = [f for f in re.findall(r'<form[^>]*>', html) if 'action="/admin/jump/"' in f]
    assert len(jump) == 1 and 'method="get"' in jump[0]
    forms = [f for f in re.findall(r'<form[^>]*>', html) if f not in jump]
    assert forms == [re.search(r'<form method="post" action="/admin/catalog-health/refresh"[^>]*>', html).group(0)]


def test_duplicate_groups_show_the_whole_group(client, app):
    result = catalog_health(app).report().get("duplicate_title_year")
    group = result.sample_groups[0]
    html = client.get("/admin/catalog-health/").get_data(as_text=True)
    row = _rows(html)["duplicate_title_year"]
    for member in group.members:
        assert f'href="/admin/movies/details/?id={member.pk[0]}"' in row


def test_detail_pages_paginate_every_affected_row(client, app, demo_counts):
    expected = demo_counts.no_director
    seen: list[str] = []
    page = 1
    while True:
        html = client.get(f"/admin/catalog-health/check/no_director/?page={page}").get_data(as_text=True)
        ids = re.findall(r'<tr><td><a href="/admin/movies/details/\?id=(\d+)">', html)
        seen += ids
        if "next &raquo;" not in html:
            break
        page += 1
    assert len(seen) == len(set(seen)) == expected
    assert page == -(-expected // 50)
    groups = client.get("/admin/catalog-health/check/duplicate_imdb_id/").get_data(as_text=True)
    assert groups.count('class="card mb-2 health-group"') == min(50, demo_counts.duplicate_imdb_id_groups)
    assert client.get("/admin/catalog-health/check/no_such_check/").status_code == 404


def test_csv_export_is_complete_and_neutralises_formulas(client, db_url, demo_counts):
    engine = _engine(db_url)
    with engine.begin() as conn:  # a title an attacker typed into the catalog
        conn.execute(text("UPDATE movies SET title = '=HYPERLINK(\"http://x\")', overview = NULL WHERE id = 3"))
        missing = conn.execute(text("SELECT count(*) FROM movies WHERE overview IS NULL")).scalar()
    engine.dispose()
    assert missing in (demo_counts.missing_overview, demo_counts.missing_overview + 1)
    response = client.get("/admin/catalog-health/check/missing_overview/csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="catalog-health-missing_overview.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["id", "title", "overview"]
    assert len(rows) - 1 == missing
    assert ["3", "'=HYPERLINK(\"http://x\")", ""] in rows
    dup = list(csv.reader(io.StringIO(client.get("/admin/catalog-health/check/duplicate_title_year/csv")
                                      .get_data(as_text=True))))
    assert dup[0] == ["id", "title", "release_date", "k0", "k1", "group_size"]
    assert len(dup) - 1 == demo_counts.duplicate_title_year_movies


def test_export_cells_follow_the_one_formula_rule():
    assert [formula_safe(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "plain", None, 5, -5, "a=b")] == \
        ["'=1+1", "+1", "-2", "'@SUM(A1)", "'\tx", "plain", None, 5, -5, "a=b"]


def test_figures_are_cached_until_refreshed(client, app, db_url):
    first = client.get("/admin/catalog-health/").get_data(as_text=True)
    stamp = re.search(r'<time datetime="([^"]+)"', first).group(1)
    engine = _engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE movies SET overview = NULL WHERE overview IS NOT NULL AND id <= 100"))
        changed = conn.execute(text("SELECT count(*) FROM movies WHERE overview IS NULL")).scalar()
    engine.dispose()
    again = client.get("/admin/catalog-health/").get_data(as_text=True)
    assert re.search(r'<time datetime="([^"]+)"', again).group(1) == stamp  # within the TTL: the cache
    assert client.post("/admin/catalog-health/refresh").status_code == 400  # no CSRF token, no recompute
    token = re.search(r'name="csrf_token" value="([^"]+)"', again).group(1)
    response = client.post("/admin/catalog-health/refresh", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/catalog-health/")
    fresh = client.get("/admin/catalog-health/").get_data(as_text=True)
    assert re.search(r"Recomputed 1\d checks in \d+\.\d\d s\.", fresh)  # the flash says what happened
    assert re.search(r'<time datetime="([^"]+)"', fresh).group(1) != stamp
    row = _rows(fresh)["missing_overview"]
    assert re.search(r'health-count">\s*([^<\s]+)', row).group(1) == f"{changed:,}"


def test_a_zero_ttl_refreshes_in_the_background_on_every_view(make_app):
    service = catalog_health(make_app(CATALOG_HEALTH_CACHE_SECONDS=0))
    first = service.current()
    assert first.report is not None
    second = service.current()  # already too old: served from the store while a refresh starts
    assert second.computed_at == first.computed_at and second.refreshing
    service.join(None)
    assert service.current().computed_at > first.computed_at


def test_stale_days_comes_from_the_setting(make_app, demo_counts):
    service = catalog_health(make_app(CATALOG_HEALTH_STALE_DAYS=100000, CATALOG_HEALTH_SAMPLE_LIMIT=2))
    result = service.report(["stale_tmdb"]).get("stale_tmdb")
    assert result.count == demo_counts.never_synced  # nothing is older than 270 years: only never synced
    assert len(result.samples) == 2


def test_cli_prints_the_same_figures_as_json_and_text(app, db_url, demo_counts, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SECRET_KEY", "cli")
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["catalog-health", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["computed_at"]
    for name, field in EXPECTED.items():
        entry = data["checks"][name]
        assert entry["count"] == getattr(demo_counts, field), name
        assert entry["share"] == round(getattr(demo_counts, field) / demo_counts.movies, 6)
        assert len(entry["samples"]) == min(5, entry.get("groups", entry["count"]))
    text_out = runner.invoke(main, ["catalog-health", "--check", "no_genre"]).stdout
    assert re.search(rf"no_genre\s+{demo_counts.no_genre:,}\s+{demo_counts.no_genre / demo_counts.movies:.2%}",
                     text_out)
    assert "no_cast" not in text_out


def test_cli_thresholds_make_it_fail(app, db_url, demo_counts, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    runner = app.test_cli_runner()
    share = demo_counts.no_director / demo_counts.movies
    below = runner.invoke(main, ["catalog-health", "--check", "no_director", "--fail-over",
                                 f"no_director={share * 100 + 0.01:.4f}%"])
    assert below.exit_code == 0, below.output
    above = runner.invoke(main, ["catalog-health", "--check", "no_director", "--fail-over",
                                 f"no_director={share - 0.001:.4f}"])
    assert above.exit_code == 1
    assert "OVER THRESHOLD no_director" in above.stderr
    assert runner.invoke(main, ["catalog-health", "--max-share", "0.5"]).exit_code == 0
    assert runner.invoke(main, ["catalog-health", "--max-share", "1%"]).exit_code == 1
    bad = runner.invoke(main, ["catalog-health", "--fail-over", "nope=1%"])
    assert bad.exit_code == 2 and "unknown check 'nope'" in bad.output
    assert runner.invoke(main, ["catalog-health", "--max-share", "150%"]).exit_code == 2
