"""Declared read-only pages ([pages.*]): one SELECT, typed and bound parameters, links,
paging, CSV; refused statements in `backoffice check`; read-only at run time too."""
from __future__ import annotations

import csv
import io
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from console.app import create_app
from console.cli import main
from tests.auth_helpers import ENV, basic, write_users
from tests.conftest import outside_sql

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = str(ROOT / "backoffice" / "demo" / "demo.toml")
PAGE = "/admin/pages/missing_posters/"


def _write(tmp_path: Path, toml: str) -> str:
    path = tmp_path / "pages.toml"
    path.write_text(textwrap.dedent(toml), encoding="utf-8")
    return str(path)


def _rows(html: str) -> list[str]:
    body = html.split('class="table table-sm table-striped declared-page-rows"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td>(.*?)</td></tr>", body.split("<tbody>", 1)[1], re.S)


def test_the_demo_page_lists_bound_results_that_open_their_records(make_app):
    app = make_app(BACKOFFICE_CONFIG=DEMO_CONFIG)
    client = app.test_client()
    expected = outside_sql(app, "SELECT count(*) AS n FROM movies WHERE poster_path IS NULL "
                                "AND release_date >= '2000-01-01'")[0]["n"]
    assert expected > 25  # more than one page
    first = client.get(PAGE)
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    rows = _rows(html)
    assert len(rows) == 25
    links = re.findall(r'href="(/admin/movies/details/\?id=\d+)"', html)
    assert len(links) == 25
    assert client.get(links[0]).status_code == 200
    # every page together holds exactly the matching rows, in the query's order
    seen, page = [], 1
    while True:
        body = client.get(f"{PAGE}?page={page}").get_data(as_text=True)
        seen += re.findall(r'href="/admin/movies/details/\?id=(\d+)"', body)
        if "next &raquo;" not in body:
            break
        page += 1
    assert len(seen) == len(set(seen)) == expected


def test_a_choice_outside_its_list_and_bad_values_are_refused_with_the_form_kept(make_app):
    client = make_app(BACKOFFICE_CONFIG=DEMO_CONFIG).test_client()
    refused = client.get(PAGE + "?language=' OR 1=1 --")
    assert refused.status_code == 400
    assert "is not one of the choices" in refused.get_data(as_text=True)
    bad_date = client.get(PAGE + "?since=yesterday")
    assert bad_date.status_code == 400
    text = bad_date.get_data(as_text=True)
    assert "is not a date" in text and 'value="yesterday"' in text
    narrowed = client.get(PAGE + "?language=fr&since=2010-01-01")
    assert narrowed.status_code == 200
    assert all("<td>fr</td>" in row for row in _rows(narrowed.get_data(as_text=True)))


def test_text_parameters_are_bound_never_interpolated(make_app, tmp_path):
    config = _write(tmp_path, '''
        [pages.by_title]
        sql = "SELECT id, title FROM movies WHERE title = :title ORDER BY id"
        params = { title = { type = "text", required = true } }
    ''')
    app = make_app(BACKOFFICE_CONFIG=config)
    client = app.test_client()
    assert client.get("/admin/pages/by_title/").status_code == 400  # required
    injected = client.get("/admin/pages/by_title/?title=x' OR '1'='1")
    assert injected.status_code == 200
    assert _rows(injected.get_data(as_text=True)) == []
    title = outside_sql(app, "SELECT title FROM movies ORDER BY id LIMIT 1")[0]["title"]
    assert len(_rows(client.get("/admin/pages/by_title/", query_string={"title": title}).get_data(as_text=True))) >= 1


def test_the_csv_export_has_every_row_formula_safe(make_app):
    app = make_app(BACKOFFICE_CONFIG=DEMO_CONFIG)
    outside_sql(app, "UPDATE movies SET title = '=HYPERLINK(1)' WHERE id = (SELECT min(id) FROM movies "
                     "WHERE poster_path IS NULL AND release_date >= '2000-01-01')")
    expected = outside_sql(app, "SELECT count(*) AS n FROM movies WHERE poster_path IS NULL "
                                "AND release_date >= '2000-01-01'")[0]["n"]
    response = app.test_client().get(PAGE + "export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["id", "title", "Language", "Released"]
    assert len(rows) - 1 == expected
    assert "'=HYPERLINK(1)" in [r[1] for r in rows[1:]]


def test_a_page_for_admins_is_a_missing_page_for_a_viewer(make_app, tmp_path):
    config = _write(tmp_path, '''
        [pages.secret_report]
        role = "admin"
        sql = "SELECT id FROM movies ORDER BY id"
    ''')
    users = write_users(tmp_path / "users", {"vera": ("viewer", "viewer password one")})
    client = make_app(BACKOFFICE_CONFIG=config, OPERATOR_AUTH_USERS_FILE=str(users), **ENV).test_client()
    viewer = basic("vera", "viewer password one")
    missing = client.get("/admin/pages/nothing-here/", headers=viewer)
    refused = client.get("/admin/pages/secret_report/", headers=viewer)
    assert refused.status_code == missing.status_code == 404
    request_ids = re.compile(rb"[0-9a-f]{32}")
    assert request_ids.sub(b"", refused.get_data()) == request_ids.sub(b"", missing.get_data())
    assert "secret_report" not in client.get("/admin/", headers=viewer).get_data(as_text=True)
    assert client.get("/admin/pages/secret_report/", headers=basic(*ENV.values())).status_code == 200


@pytest.mark.parametrize(("sql", "why"), [
    ("DELETE FROM movies", "must start with SELECT or WITH"),
    ("SELECT 1; DELETE FROM movies", "more than one statement"),
    ("WITH gone AS (DELETE FROM movies RETURNING id) SELECT * FROM gone", "uses DELETE"),
    ("SELECT * INTO stolen FROM movies", "uses INTO"),
    ("SELECT * FROM movies FOR UPDATE", "uses SHARE, UPDATE"[-6:]),
])
def test_check_refuses_statements_that_are_not_one_read_only_select(sqlite_demo_url, tmp_path, sql, why):
    config = _write(tmp_path, f'[pages.p]\nsql = "{sql}"\n')
    result = CliRunner().invoke(main, ["check"], env={"DATABASE_URL": sqlite_demo_url, "BACKOFFICE_CONFIG": config})
    assert result.exit_code == 1
    line = next(l for l in result.output.splitlines() if "[backoffice.E110]" in l)
    assert why in line


def test_check_reports_parameters_links_roles_and_queries_the_database_refuses(sqlite_demo_url, tmp_path):
    config = _write(tmp_path, '''
        [pages.p]
        role = "boss"
        sql = "SELECT id, nosuchcolumn FROM movies WHERE id > :low"
        params = { high = { type = "integer" } }
        links = { id = "movie" }
        [pages.q]
        sql = "SELECT id FROM movies WHERE release_date > :d"
        params = { d = { type = "date", default = "someday" } }
    ''')
    result = CliRunner().invoke(main, ["check"], env={"DATABASE_URL": sqlite_demo_url, "BACKOFFICE_CONFIG": config})
    assert result.exit_code == 1
    ids = re.findall(r"\[backoffice\.(E\d+)\]", result.output)
    assert sorted(ids) == ["E111", "E111", "E112", "E114", "E115", "E117"]
    assert "did you mean 'movies'?" in result.output


@pytest.mark.postgres
def test_the_read_only_transaction_stops_what_the_statement_check_cannot_see(pg_demo_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _write(tmp_path, '''
        [pages.bump]
        sql = "SELECT nextval('movies_id_seq') AS n"
    ''')
    app = create_app({"DATABASE_URL": pg_demo_url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING",
                      "BACKOFFICE_CONFIG": config})
    before = outside_sql(app, "SELECT last_value FROM movies_id_seq")[0]["last_value"]
    response = app.test_client().get("/admin/pages/bump/")
    assert response.status_code == 500
    assert "read-only transaction" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert outside_sql(app, "SELECT last_value FROM movies_id_seq")[0]["last_value"] == before
