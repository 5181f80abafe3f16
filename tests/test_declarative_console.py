"""The declarative file applied to real screens: the demo console configured by
backoffice/demo/demo.toml, never_show everywhere, links, hidden screens, custom views."""
from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from console.cli import main
from backoffice.core.declarations import DeclarationError, check_all, load_declarations
from console.app import console_rules
from backoffice.core.settings import normalise_database_url
from views.deferral import built

from tests.test_declarative_checks import custom_package  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
DEMO_FILE = ROOT / "backoffice" / "demo" / "demo.toml"


def screen(app, name):
    """The screen of ``name``, built (its type is its own class, not the stand-in of views/deferral.py)."""
    return built(next(v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None) == name))


def write(tmp_path, toml: str) -> str:
    path = tmp_path / "backoffice.toml"
    path.write_text(textwrap.dedent(toml), encoding="utf-8")
    return str(path)


def test_demo_example_has_no_problem(make_app):
    app = make_app()
    assert check_all(load_declarations(DEMO_FILE), app.extensions["backoffice.reflection"], console_rules()) == []


def test_demo_console_configured_entirely_by_the_example(make_app):
    app = make_app(BACKOFFICE_CONFIG=DEMO_FILE)
    client = app.test_client()
    views = [v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None)]
    assert [(v.name, v.category) for v in views] == [
        ("Movies", "Catalog"), ("People", "Catalog"), ("Credits", "Catalog"),
        ("Genres", "Vocabulary"), ("Keywords", "Vocabulary"), ("TMDB matches", "Reviews")]

    # hidden: no screen, no menu entry
    assert client.get("/admin/movie_genres/").status_code == 404
    assert client.get("/admin/movie_keywords/").status_code == 404
    page = client.get("/admin/movies/").get_data(as_text=True)
    assert "/admin/movie_genres/" not in page and "Vocabulary" in page

    # list columns, labels and links
    headings = re.findall(r'<th class="column-header col-(\w+)"', page)
    assert headings == ["title", "release_date", "original_language", "tmdb_id", "imdb_id", "tmdb_synced_at"]
    assert ">TMDB<" in page and ">Released<" in page and ">IMDb<" in page
    links = re.findall(r'<a href="https://www\.themoviedb\.org/movie/(\d+)" rel="noopener noreferrer"', page)
    assert len(links) >= 10

    # roles and the other attributes the access and paging code read
    movies, matches, genres, keywords = (screen(app, n) for n in ("movies", "tmdb_match_reviews", "genres", "keywords"))
    assert (movies.create_role, movies.edit_role, movies.delete_role) == ("operator", "operator", "admin")
    assert (matches.create_role, matches.edit_role, matches.delete_role) == (None, None, None)
    assert not (matches.can_create or matches.can_edit or matches.can_delete)
    assert genres.delete_role is None and not genres.can_delete and genres.edit_role == "operator"
    assert (movies.count_strategy, keywords.count_strategy) == ("auto", "estimate")
    assert movies.column_default_sort == [("updated_at", True), ("id", False)]
    assert matches.column_default_sort == [("match_score", True), ("id", False)]

    reviews = client.get("/admin/tmdb_match_reviews/").get_data(as_text=True)
    assert re.search(r'<span class="badge badge-(warning|success|danger|secondary)">(pending|applied|rejected|'
                     r'deferred)</span>', reviews)
    assert re.search(r"col-match_score\">\s*\d{1,3}%\s*<", reviews)
    assert "/admin/tmdb_match_reviews/new/" not in reviews
    details = client.get("/admin/movies/details/?id=1").get_data(as_text=True)
    assert re.findall(r"<td>\s*<b>(\w[\w ]*)</b>", details)[:3] == ["Id", "Title", "Original title"]


def test_never_show_hides_a_column_everywhere(make_app, tmp_path, db_url):
    engine = create_engine(normalise_database_url(db_url))
    with engine.connect() as conn:
        secret = conn.execute(text("SELECT imdb_id FROM movies WHERE id = 1")).scalar()
    engine.dispose()
    assert secret
    app = make_app(BACKOFFICE_CONFIG=write(tmp_path, """
        [views.movies]
        never_show = ["imdb_id"]
        search = ["title", "original_title"]
        sort = "id"
    """))
    client = app.test_client()
    pages = {
        "list": client.get("/admin/movies/").get_data(as_text=True),
        "details": client.get("/admin/movies/details/?id=1").get_data(as_text=True),
        "edit": client.get("/admin/movies/edit/?id=1").get_data(as_text=True),
        "create": client.get("/admin/movies/new/").get_data(as_text=True),
        "export": client.get("/admin/movies/export/csv/").get_data(as_text=True),
    }
    searched = client.get(f"/admin/movies/?search={secret}").get_data(as_text=True)
    assert "match the search" in searched and "show all rows" in searched
    for where, body in pages.items():
        assert secret not in body, where
        assert "imdb_id" not in body and "Imdb Id" not in body, where
    assert pages["export"].splitlines()[0].startswith("Id,Tmdb id,Title,Original title,Release date,")
    view = screen(app, "movies")
    assert view.column_searchable_list == ["title", "original_title"]
    assert "imdb_id" not in (view.column_filters or []) and "imdb_id" not in view.column_sortable_list


def test_link_values_are_url_escaped_and_html_escaped(make_app, tmp_path, db_url):
    engine = create_engine(normalise_database_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE movies SET title = :t WHERE id = 1"), {"t": '"><script>x()</script> & co'})
    engine.dispose()
    app = make_app(BACKOFFICE_CONFIG=write(tmp_path, """
        [views.movies]
        list = ["id", "title"]
        sort = "id"
        links = { title = "https://example.test/search?q={title}&id={id}" }
    """))
    page = app.test_client().get("/admin/movies/").get_data(as_text=True)
    assert ('<a href="https://example.test/search?q=%22%3E%3Cscript%3Ex%28%29%3C%2Fscript%3E%20%26%20co&amp;id=1" '
            'rel="noopener noreferrer" target="_blank">&#34;&gt;&lt;script&gt;x()&lt;/script&gt; &amp; co</a>') in page
    assert "<script>x()" not in page


def test_errors_stop_start_up_and_warnings_do_not(make_app, tmp_path):
    with pytest.raises(DeclarationError) as raised:
        make_app(BACKOFFICE_CONFIG=write(tmp_path, "[views.movies\nlabel = 'x'\n"))
    assert "is not valid TOML" in str(raised.value) and "[backoffice.E001]" in str(raised.value)
    with pytest.raises(DeclarationError) as raised:
        make_app(BACKOFFICE_CONFIG=write(tmp_path, '[views.movies]\nlist = ["relase_date"]\ncount = "fast"\n'))
    assert [p.id for p in raised.value.problems] == ["backoffice.E015", "backoffice.E012"]
    app = make_app(BACKOFFICE_CONFIG=write(tmp_path, '[views.movies]\nhidden = true\nlabel = "Films"\n'))
    assert app.test_client().get("/admin/movies/").status_code == 404


def test_check_command_prints_problems_and_fails_on_errors(sqlite_demo_url, tmp_path):
    env = {"DATABASE_URL": sqlite_demo_url, "BACKOFFICE_CONFIG": str(DEMO_FILE)}
    ok = CliRunner().invoke(main, ["check"], env=env)
    assert ok.exit_code == 0, ok.output
    assert f"{DEMO_FILE}: 0 errors, 0 warnings" in ok.output
    env["BACKOFFICE_CONFIG"] = write(tmp_path, '[views.movies]\nlist = ["relase_date"]\nhidden = true\n')
    bad = CliRunner().invoke(main, ["check"], env=env)
    assert bad.exit_code == 1
    assert (f"ERROR: {env['BACKOFFICE_CONFIG']}: views.movies.list[0]: 'relase_date' is not a column of 'movies'; "
            "did you mean 'release_date'? [backoffice.E012]") in bad.output
    assert "WARNING: " in bad.output and "1 errors, 1 warnings" in bad.output


def test_custom_view_takes_precedence_and_is_still_tuned(make_app, tmp_path, custom_package):  # noqa: F811
    shutil.copyfile(ROOT / "examples" / "custom_views" / "movies.py", custom_package / "example_movies.py")
    plain = make_app()
    view = screen(plain, "movies")
    assert type(view).__name__ == "MovieView" and view.column_default_sort == ("title", False)
    details = plain.test_client().get("/admin/movies/details/?id=1").get_data(as_text=True)
    assert re.search(r"\b\dh \d\dm\b", details)

    tuned = make_app(BACKOFFICE_CONFIG=DEMO_FILE)
    view = screen(tuned, "movies")
    assert type(view).__mro__[1].__name__ == "MovieView"
    assert view.name == "Movies" and view.column_default_sort == [("updated_at", True), ("id", False)]
    assert "runtime_minutes" in view.column_formatters and "tmdb_id" in view.column_formatters
    page = tuned.test_client().get("/admin/movies/").get_data(as_text=True)
    assert "The Movie Database id" in page  # the class's own column description


def test_never_show_on_a_foreign_key_hides_its_relationship_too(make_app, tmp_path):
    app = make_app(BACKOFFICE_CONFIG=write(tmp_path, """
        [views.movie_credits]
        never_show = ["movie_id"]
        create = "nobody"
    """))
    client = app.test_client()
    for url in ("/admin/movie_credits/", "/admin/movie_credits/details/?id=1", "/admin/movie_credits/edit/?id=1"):
        body = client.get(url).get_data(as_text=True)
        assert "movie_id" not in body and "Movie Id" not in body, url
    assert 'name="person"' in client.get("/admin/movie_credits/edit/?id=1").get_data(as_text=True)
