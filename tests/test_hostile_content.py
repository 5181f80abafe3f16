"""Hostile data and oversized input: injection matches literally, stored markup renders
escaped everywhere, exports do not carry live formulas, big inputs get a clear 4xx."""
import csv
import io
import re
from pathlib import Path

from tests.conftest import csrf_token, outside_sql

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = str(ROOT / "backoffice" / "demo" / "demo.toml")
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_IMG = "&lt;img src=x onerror=alert(1)&gt;"
INJECTIONS = ["Robert'); DROP TABLE movies;--", "' OR '1'='1", "x\" OR \"\"=\"", "1; DELETE FROM people"]
TABLES = ("movies", "people", "movie_credits", "tmdb_match_reviews", "backoffice_audit_events")
FORMULA = ("=", "+", "-", "@", "\t", "\r")
STAMPS = {"created_at": "2024-01-01 00:00:00", "updated_at": "2024-01-01 00:00:00"}


def _counts(app):
    return {t: outside_sql(app, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in TABLES}


def _shows_row(html: str, key) -> bool:
    return re.search(rf"[?&;]id={key}(&|\")", html) is not None


def _html(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _assert_escaped(html: str, *payloads):
    assert SCRIPT not in html and IMG not in html
    assert "onerror=alert(1)>" not in html
    for payload in payloads:
        assert payload in html


# -- SQL injection -------------------------------------------------------------------------
def test_injection_strings_in_search_match_literally_and_change_nothing(make_app):
    app = make_app(BACKOFFICE_CONFIG=DEMO_CONFIG)
    client = app.test_client()
    ids = [r["id"] for r in outside_sql(app, "SELECT id FROM movies ORDER BY id LIMIT :n", n=len(INJECTIONS))]
    for key, text in zip(ids, INJECTIONS):
        outside_sql(app, "UPDATE movies SET title = :t WHERE id = :i", t=f"Planted {text} title", i=key)
    before = _counts(app)
    for key, text in zip(ids, INJECTIONS):
        response = client.get("/admin/movies/", query_string={"search": text})
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert _shows_row(html, key), text  # the row whose title holds the string is found
        assert not any(_shows_row(html, other) for other in ids if other != key)
    assert _counts(app) == before


def test_injection_strings_in_filters_match_literally_and_change_nothing(make_app):
    app = make_app(BACKOFFICE_CONFIG=DEMO_CONFIG)
    client = app.test_client()
    view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", "") == "table_movie_credits")
    index = next(i for i, f in enumerate(view._filters) if f.column.key == "job" and f.operation() == "equals")
    credit = outside_sql(app, "SELECT id FROM movie_credits ORDER BY id LIMIT 1")[0]["id"]
    outside_sql(app, "UPDATE movie_credits SET job = :j WHERE id = :i", j=INJECTIONS[1], i=credit)
    before = _counts(app)
    for text in INJECTIONS:
        response = client.get("/admin/movie_credits/", query_string={f"flt0_{index}": text})
        assert response.status_code == 200
        assert _shows_row(response.get_data(as_text=True), credit) == (text == INJECTIONS[1])
    # the queue's status filter: a quote is a value, not syntax
    rows = client.get("/admin/review-queue/", query_string={"state": "pending' OR '1'='1"})
    assert rows.status_code == 200
    assert _counts(app) == before


# -- stored XSS ----------------------------------------------------------------------------
def _plant_markup(app):
    """A pending review at the top of the queue whose movie and candidate carry markup."""
    review = outside_sql(app, "SELECT id, movie_id FROM tmdb_match_reviews WHERE status = 'pending' "
                              "ORDER BY match_score DESC, id LIMIT 1")[0]
    outside_sql(app, "UPDATE movies SET title = :t, overview = :o WHERE id = :i", t=SCRIPT, o=IMG,
                i=review["movie_id"])
    outside_sql(app, "UPDATE tmdb_match_reviews SET candidate_title = :t WHERE id = :i", t=IMG, i=review["id"])
    return review


def test_stored_markup_renders_escaped_in_lists_details_forms_and_the_queue(make_app):
    app = make_app(BACKOFFICE_CONFIG=DEMO_CONFIG)
    client = app.test_client()
    review = _plant_markup(app)
    movie = review["movie_id"]
    _assert_escaped(_html(client, f"/admin/movies/?search={movie}&flt0_0="), )
    _assert_escaped(_html(client, "/admin/movies/?search=alert"), ESCAPED_SCRIPT)
    _assert_escaped(_html(client, f"/admin/movies/details/?id={movie}"), ESCAPED_SCRIPT, ESCAPED_IMG)
    _assert_escaped(_html(client, f"/admin/movies/edit/?id={movie}"), ESCAPED_SCRIPT, ESCAPED_IMG)
    _assert_escaped(_html(client, "/admin/tmdb_match_reviews/?search=onerror"), ESCAPED_IMG)
    _assert_escaped(_html(client, f"/admin/tmdb_match_reviews/details/?id={review['id']}"), ESCAPED_IMG)
    _assert_escaped(_html(client, "/admin/review-queue/"), ESCAPED_SCRIPT, ESCAPED_IMG)
    token = csrf_token(client, "/admin/review-queue/")
    confirm = client.post("/admin/review-queue/confirm/", data={"csrf_token": token, "row_action": f"apply:{review['id']}"})
    assert confirm.status_code == 200
    _assert_escaped(confirm.get_data(as_text=True), ESCAPED_SCRIPT)


def test_stored_markup_renders_escaped_in_catalog_health_samples(make_app):
    app = make_app()
    client = app.test_client()
    movie = outside_sql(app, "SELECT min(id) AS id FROM movies WHERE overview IS NULL")[0]["id"]
    outside_sql(app, "UPDATE movies SET title = :t WHERE id = :i", t=SCRIPT, i=movie)
    detail = _html(client, "/admin/catalog-health/check/missing_overview/")
    _assert_escaped(detail, ESCAPED_SCRIPT)
    _assert_escaped(_html(client, "/admin/catalog-health/"))


def test_markup_written_through_a_form_is_escaped_in_the_audit_diff(make_app):
    app = make_app(BACKOFFICE_CONFIG=DEMO_CONFIG)
    client = app.test_client()
    token = csrf_token(client, "/admin/movies/new/")
    created = client.post("/admin/movies/new/", data={"csrf_token": token, "title": SCRIPT, "overview": IMG,
                                                       "audit_reason": IMG, **STAMPS})
    assert created.status_code == 302, created.get_data(as_text=True)[:500]
    _assert_escaped(_html(client, "/admin/audit/"), ESCAPED_SCRIPT, ESCAPED_IMG)


# -- CSV exports ---------------------------------------------------------------------------
def _cells(text: str):
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _assert_no_live_formula(cells):
    live = [c for c in cells if c.startswith(FORMULA) and not re.fullmatch(r"[+-]?\d+(\.\d+)?", c)]
    assert not live, live[:5]


def test_every_csv_export_neutralises_formula_cells(make_app):
    app = make_app()
    client = app.test_client()
    formulas = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)"]
    movies = [r["id"] for r in outside_sql(app, "SELECT id FROM movies WHERE overview IS NULL ORDER BY id LIMIT 4")]
    for key, formula in zip(movies, formulas):
        outside_sql(app, "UPDATE movies SET title = :t WHERE id = :i", t=formula, i=key)
    outside_sql(app, "UPDATE tmdb_match_reviews SET candidate_title = :t WHERE id = 1", t=formulas[0])
    token = csrf_token(client, "/admin/movies/new/")
    created = client.post("/admin/movies/new/", data={"csrf_token": token, "title": formulas[3],
                                                       "audit_reason": formulas[0], **STAMPS})
    assert created.status_code == 302

    exported = {}
    for name, url in (("movies", "/admin/movies/export/csv/"), ("reviews", "/admin/tmdb_match_reviews/export/csv/"),
                      ("health", "/admin/catalog-health/check/missing_overview/csv"),
                      ("audit", "/admin/audit/export.csv")):
        response = client.get(url)  # streamed: read each before the next request
        assert response.status_code == 200, name
        exported[name] = text = response.get_data(as_text=True)
        _assert_no_live_formula(_cells(text))
        assert "'=HYPERLINK" in text or "'@SUM" in text, name  # the planted values are there, quoted
    movie_cells = _cells(exported["movies"])
    for formula in formulas:
        assert "'" + formula in movie_cells
    # plain numbers keep their sign: "-3" is a number, not a formula
    from views.cells import formula_safe

    assert formula_safe("-3") == "-3" and formula_safe("+1.5e3") == "+1.5e3" and formula_safe(-3) == -3
    assert formula_safe("-3+A1") == "'-3+A1"


# -- oversized input -----------------------------------------------------------------------
def test_oversized_inputs_are_refused_with_a_clear_4xx(make_app):
    app = make_app(BACKOFFICE_CONFIG=DEMO_CONFIG)
    client = app.test_client()
    before = _counts(app)
    token = csrf_token(client, "/admin/movies/new/")

    huge = client.post("/admin/movies/new/", data={"csrf_token": token, "title": "x" * (3 * 1024 * 1024)})
    assert huge.status_code == 413
    assert "larger than 2 MB" in huge.get_data(as_text=True)

    long_search = client.get("/admin/movies/", query_string={"search": "a" * 100_000})
    assert long_search.status_code == 414
    assert "Shorten the search" in long_search.get_data(as_text=True)

    long_field = client.post("/admin/movies/new/", data={"csrf_token": token, "title": "t" * 10_000, **STAMPS})
    assert long_field.status_code == 422
    assert "longer than 300 characters" in long_field.get_data(as_text=True)

    nul = client.get("/admin/movies/", query_string={"search": "a\x00b"})
    assert nul.status_code == 400 and "NUL character" in nul.get_data(as_text=True)
    assert _counts(app) == before
