"""The generated console: dashboard, screens, CSRF and honest errors."""
import re

from sqlalchemy import text

from tests.conftest import csrf_token

DEMO_TABLES = ["movies", "people", "movie_credits", "genres", "movie_genres", "keywords", "movie_keywords",
               "tmdb_match_reviews"]


def test_dashboard_lists_every_table_with_its_row_count(client, demo_counts):
    html = client.get("/admin/").get_data(as_text=True)
    for table in DEMO_TABLES:
        assert f'href="/admin/{table}/"' in html
    assert "backoffice_audit_events" not in html
    row = re.search(r'href="/admin/movies/">movies</a></td>.*?<td class="text-right">([^<]+)</td>', html, re.S)
    assert row.group(1).strip() == f"{demo_counts.movies:,}"


def test_every_table_has_list_details_and_edit_screens(client):
    for table in DEMO_TABLES:
        assert client.get(f"/admin/{table}/").status_code == 200, table
    assert client.get("/admin/movies/details/?id=1").status_code == 200
    assert client.get("/admin/movies/edit/?id=1").status_code == 200
    assert client.get("/admin/movie_genres/").status_code == 200


def test_float_column_is_editable(client):
    html = client.get("/admin/tmdb_match_reviews/edit/?id=1").get_data(as_text=True)
    assert 'name="match_score"' in html


def _genres_named(app, name):
    with app.app_context():
        db = app.extensions["backoffice.db"]
        return db.session.execute(text("SELECT count(*) FROM genres WHERE name = :n"), {"n": name}).scalar()


def test_post_without_csrf_token_is_refused_visibly(app, client):
    response = client.post("/admin/genres/new/", data={"name": "Noir", "tmdb_genre_id": "1"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert _genres_named(app, "Noir") == 0


def test_post_with_csrf_token_is_accepted(app, client):
    token = csrf_token(client, "/admin/genres/new/")
    response = client.post("/admin/genres/new/", data={"csrf_token": token, "name": "Noir", "tmdb_genre_id": "1"})
    assert response.status_code == 302
    assert _genres_named(app, "Noir") == 1


def test_unknown_page_is_a_clean_404(client):
    response = client.get("/admin/no-such-table/")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "Request id" in body


def test_dashboard_leaves_out_hidden_screens(make_app, tmp_path):
    config = tmp_path / "backoffice.toml"
    config.write_text('[views.keywords]\nhidden = true\n')
    html = make_app(BACKOFFICE_CONFIG=str(config)).test_client().get("/admin/").get_data(as_text=True)
    assert 'href="/admin/movies/"' in html
    assert ">keywords<" not in html and "/admin/keywords/" not in html
