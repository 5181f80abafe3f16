"""Every problem id of the declarative file, each with its exact message.

The schema is the demo catalog (SQLite) plus a table with a BLOB and a BOOLEAN and
a database view, so that every check has something real to trip over.
"""
from __future__ import annotations

import shutil
import sys
import textwrap

import pytest
from sqlalchemy import create_engine, text

import views  # noqa: F401  (registers the views checks)
from backoffice.core.declarations import check_all, load_declarations
from console.app import console_rules
from models.reflection import reflect


@pytest.fixture(scope="module")
def reflection(sqlite_demo_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("checks") / "schema.sqlite"
    shutil.copyfile(sqlite_demo_template[0], path)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE attachments (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, "
                          "body BLOB, published BOOLEAN)"))
        conn.execute(text("CREATE VIEW movie_titles AS SELECT id, title FROM movies"))
    try:
        yield reflect(engine)
    finally:
        engine.dispose()


@pytest.fixture
def problems(reflection, tmp_path):
    """TOML text -> every problem as printed, the file's path shortened to F."""
    def run(toml: str) -> list[str]:
        path = tmp_path / "backoffice.toml"
        path.write_text(textwrap.dedent(toml), encoding="utf-8")
        return [str(p).replace(str(path), "F") for p in check_all(load_declarations(path), reflection, console_rules())]
    return run


def only(found: list[str], id: str) -> list[str]:
    return [line for line in found if line.endswith(f"[backoffice.{id}]")]


CASES = [
    ("E001", "[views.movies\n",
     "F: <file>: is not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 14) "
     "[backoffice.E001]"),
    ("E002", "[view.movies]\n", "F: view: unknown section 'view'; did you mean 'views'? [backoffice.E002]"),
    ("E003", "views = 3\n", "F: views: 'views' must be a table ([views.<name>]) [backoffice.E003]"),
    ("E004", "[views.movies]\nlables = {}\n",
     "F: views.movies.lables: unknown option 'lables'; did you mean 'labels'? [backoffice.E004]"),
    ("E005", '[views.movies]\npage_size = "50"\n',
     "F: views.movies.page_size: expected int, got str '50' [backoffice.E005]"),
    ("E010", "[views.movie]\n",
     "F: views.movie: 'movie' is not a table or view of the database; did you mean 'movies'? [backoffice.E010]"),
    ("E011", '[views.movies]\nlist = ["title", "release_date", "title"]\n',
     "F: views.movies.list[2]: 'title' is already listed at list[0] [backoffice.E011]"),
    ("E012", '[views.movies]\nlist = ["title", "tmdb_id", "relase_date"]\n',
     "F: views.movies.list[2]: 'relase_date' is not a column of 'movies'; did you mean 'release_date'? "
     "[backoffice.E012]"),
    ("E013", '[views.movies]\nnever_show = ["overview"]\ndetails = ["title", "overview"]\n',
     "F: views.movies.details[1]: 'overview' is in never_show and cannot be used here; "
     "remove it from never_show or from this option [backoffice.E013]"),
    ("E014", '[views.movies]\ncreate = "operater"\n',
     "F: views.movies.create: unknown role 'operater'; did you mean 'operator'? [backoffice.E014]"),
    ("E015", '[views.movies]\ncount = "fast"\n',
     "F: views.movies.count: unknown count strategy 'fast'; expected one of: 'auto', 'capped', 'estimate', "
     "'exact', 'none' [backoffice.E015]"),
    ("E016", "[views.movies]\npage_size = 0\n",
     "F: views.movies.page_size: must be between 1 and 1000, got 0 [backoffice.E016]"),
    ("E017", '[views.movies]\nlabel = " "\n', "F: views.movies.label: label must not be empty [backoffice.E017]"),
    ("E018", "[views.movies]\nlabels = { tmdb_id = 3 }\n",
     "F: views.movies.labels.tmdb_id: expected a string, got 3 [backoffice.E018]"),
    ("E019", '[views.movies]\nsort = "-"\n',
     "F: views.movies.sort: '-' names no column; write 'column' or '-column' [backoffice.E019]"),
    ("E020", '[views.movies]\nformatters = { title = "dat" }\n',
     "F: views.movies.formatters.title: unknown formatter 'dat'; did you mean 'date'? [backoffice.E020]"),
    ("E021", '[views.movies]\nformatters = { overview = { kind = "truncate", lenght = 3 } }\n',
     "F: views.movies.formatters.overview.lenght: unknown argument 'lenght' of formatter 'truncate'; "
     "did you mean 'length'? [backoffice.E021]"),
    ("E022", '[views.movies]\nformatters = { runtime_minutes = { kind = "number", places = 99 } }\n',
     "F: views.movies.formatters.runtime_minutes.places: expected an integer between -1 and 10, got 99 "
     "[backoffice.E022]"),
    ("E025", '[views.movies]\nlinks = { tmdb_id = "javascript:alert({tmdb_id})" }\n',
     "F: views.movies.links.tmdb_id: 'javascript:alert({tmdb_id})' is not an http(s) URL; "
     "links must start with http:// or https:// [backoffice.E025]"),
    ("E026", '[views.movies]\nlinks = { imdb_id = "https://www.imdb.com/title/{imbd_id}/" }\n',
     "F: views.movies.links.imdb_id: placeholder '{imbd_id}' is not a column of 'movies'; "
     "did you mean 'imdb_id'? [backoffice.E026]"),
    ("E027", '[views.movies]\nlinks = { title = "https://x.test/{title.__class__}" }\n',
     "F: views.movies.links.title: malformed template 'https://x.test/{title.__class__}': "
     "placeholder '{title.__class__}' must be a plain column name [backoffice.E027]"),
    ("E028", '[views.movies]\nlinks = { tmdb_id = "https://x.test/{tmdb_id}" }\nformatters = { tmdb_id = "number" }\n',
     "F: views.movies.formatters.tmdb_id: 'tmdb_id' also has a link; a column takes a link or a formatter, "
     "not both [backoffice.E028]"),
    ("E030", '[views.attachments]\nfilters = ["published", "body"]\n',
     "F: views.attachments.filters[1]: cannot filter on 'body' (BLOB); filters work on text, numbers, dates, "
     "times, booleans, enums and uuids [backoffice.E030]"),
    ("E031", '[views.attachments]\nsearch = ["name", "published"]\n',
     "F: views.attachments.search[1]: cannot search 'published': it holds no text (bool); "
     "add it to filters instead [backoffice.E031]"),
    ("E033", '[views.movies]\nfulltext = "overview"\n',
     "F: views.movies.fulltext: 'overview' is not a tsvector column (TEXT); full-text search needs a PostgreSQL "
     "tsvector column; name a tsvector column, or use search = [...] for contains-search [backoffice.E033]"),
    ("E032", '[views.attachments]\nsortable = ["name", "body"]\n',
     "F: views.attachments.sortable[1]: cannot sort by 'body' (BLOB); sorting works on text, numbers, dates, "
     "times, booleans, enums and uuids [backoffice.E032]"),
    ("W010", '[views.movies]\nread_only = true\ndelete = "admin"\n',
     "F: views.movies.delete: 'admin' may delete, but the screen is read_only; the role has no effect "
     "[backoffice.W010]"),
    ("W011", '[views.movie_titles]\nedit = "operator"\n',
     "F: views.movie_titles.edit: 'operator' may edit, but 'movie_titles' is a view (read-only in the console); "
     "the role has no effect [backoffice.W011]"),
    ("W012", '[views.attachments]\nnever_show = ["name"]\n',
     "F: views.attachments.never_show[0]: 'name' is required (NOT NULL, no default): creating attachments rows "
     "will fail; add create = \"nobody\" or read_only = true [backoffice.W012]"),
    ("E040", '[views.movies.actions.resync]\nset = { tmdb_synced_at = "null()" }\nlable = "Re-sync"\n',
     "F: views.movies.actions.resync.lable: unknown action option 'lable'; did you mean 'label'? [backoffice.E040]"),
    ("E041", '[views.movies.actions.renumber]\nset = { id = 1 }\n',
     "F: views.movies.actions.renumber.set.id: 'id' is part of the primary key; an action cannot set it "
     "[backoffice.E041]"),
    ("E042", '[views.movies.actions.runtime]\nset = { runtime_minutes = "long" }\n',
     "F: views.movies.actions.runtime.set.runtime_minutes: runtime_minutes takes a whole number, not 'long' "
     "[backoffice.E042]"),
    ("E043", '[views.movies.actions.resync]\nset = { tmdb_synced_at = "null()" }\nrole = "boss"\n',
     "F: views.movies.actions.resync.role: unknown role 'boss'; expected one of: 'admin', 'operator', 'viewer' "
     "[backoffice.E043]"),
    ("E044", '[views.movies.actions.resync]\nset = { tmdb_synced_at = "null()" }\nconfirm_over = 5000\n',
     "F: views.movies.actions.resync.confirm_over: must be between 0 and 1000, got 5000 [backoffice.E044]"),
    ("E045", '[views.movies]\nreason = { delet = "required" }\n',
     "F: views.movies.reason.delet: unknown kind of write 'delet'; did you mean 'delete'? [backoffice.E045]"),
    ("E046", '[views.movies]\nconfirm_delete = "title"\n',
     "F: views.movies.confirm_delete: unknown confirmation 'title'; expected one of: 'key', 'label' "
     "[backoffice.E046]"),
    ("E047", '[views.movies]\nconfirm_delete = "key"\nconfirm_delete_seconds = 5\n',
     "F: views.movies.confirm_delete_seconds: must be between 30 and 86400, got 5 [backoffice.E047]"),
    ("W013", '[views.movies]\nformatters = { release_date = "money" }\n',
     "F: views.movies.formatters.release_date: formatter 'money' does not fit 'release_date' (date); "
     "it fits integer, number columns [backoffice.W013]"),
    ("W014", '[views.movies]\nhidden = true\nlist = ["title"]\n',
     "F: views.movies: hidden = true; the other options (list) have no effect [backoffice.W014]"),
    ("W015", '[views.movies]\nsearch = ["title", "tmdb_id"]\n',
     "F: views.movies.search[1]: 'tmdb_id' is numeric; search matches its text form and cannot use an index; "
     "consider a filter instead [backoffice.W015]"),
    ("E037", '[views.genres]\nrevert_role = "admn"\n',
     "F: views.genres.revert_role: unknown role 'admn'; did you mean 'admin'? [backoffice.E037]"),
    ("W016", '[views.people]\nrevert = false\nrevert_role = "admin"\n',
     "F: views.people.revert_role: revert is false on this screen; revert_role has no effect [backoffice.W016]"),
    ("E034", '[views.genres]\napproval = { edit = "admn" }\n',
     "F: views.genres.approval.edit: unknown role 'admn'; did you mean 'admin'? [backoffice.E034]"),
    ("E048", '[views.genres]\napproval = { update = "admin" }\n',
     "F: views.genres.approval.update: 'update' is not a kind of write that can wait for approval; "
     "expected one of: 'create', 'delete', 'edit' [backoffice.E048]"),
    ("E049", '[views.genres]\napproval_hours = 0\n',
     "F: views.genres.approval_hours: 0 is not between 1 and 720 [backoffice.E049]"),
    ("W019", '[views.movie_titles]\napproval = { delete = "admin" }\n',
     "F: views.movie_titles.approval.delete: the screen does not allow delete; the approval has no effect "
     "[backoffice.W019]"),
]


@pytest.mark.parametrize(("id", "toml", "expected"), CASES, ids=[c[0] for c in CASES])
def test_problem_message(problems, id, toml, expected):
    assert only(problems(toml), id) == [expected]


def test_every_views_and_file_id_has_a_case():
    # W017 needs a tsvector column (PostgreSQL): tests/test_fulltext_search.py has its case.
    tested = {f"backoffice.{c[0]}" for c in CASES} | {"backoffice.E035", "backoffice.E036", "backoffice.W017"}
    ours = {i for i in console_rules().problem_ids if i.split(".")[1][1:3] in ("00", "01", "02", "03", "04")}
    assert ours - tested == set()


def test_every_problem_is_reported_at_once(problems):
    found = problems("""
        [views.movies]
        list = ["title", "relase_date"]
        create = "operater"
        count = "fast"
        [views.peple]
    """)
    assert [line.rsplit("[", 1)[1] for line in found] == [
        "backoffice.E015]", "backoffice.E014]", "backoffice.E012]", "backoffice.E010]"]


def test_missing_file_and_other_shapes(problems, tmp_path, reflection):
    missing = load_declarations(tmp_path / "nope.toml")
    assert [str(p) for p in check_all(missing, reflection, console_rules())] == [
        f"{tmp_path / 'nope.toml'}: <file>: the file does not exist [backoffice.E001]"]
    assert only(problems("[views]\nmovies = 3\n"), "E003") == [
        "F: views.movies: 'views.movies' must be a table [backoffice.E003]"]
    assert only(problems('[views.movies]\nsort = []\n'), "E019") == [
        "F: views.movies.sort: sort must name at least one column [backoffice.E019]"]
    assert only(problems('[views.movies]\nformatters = { imdb_id = { length = 3 }, poster_path = 3 }\n'),
                "E018") == [
        'F: views.movies.formatters.imdb_id: a formatter table needs kind = "<formatter>" [backoffice.E018]',
        "F: views.movies.formatters.poster_path: expected a formatter name or table, got 3 [backoffice.E018]"]
    assert only(problems('[views.movies]\nformatters = { status = { kind = "badge", colors = { a = "pink" } } }\n'),
                "E012")  # status is not a movies column
    assert only(problems('[views.tmdb_match_reviews]\nformatters = { status = { kind = "badge", '
                         'colors = { pending = "pink" } } }\n'), "E022") == [
        "F: views.tmdb_match_reviews.formatters.status.colors: unknown colour pending = 'pink'; expected one of: "
        "primary, secondary, success, danger, warning, info, light, dark [backoffice.E022]"]


def test_pattern_entries(problems):
    assert problems('[views."movie_*"]\nhidden = true\n') == []
    assert problems('[views."film_*"]\nhidden = true\n') == [
        "F: views.\"film_*\": 'film_*' matches no table or view of the database [backoffice.E010]"]
    assert problems('[views."movie_[gk]*"]\nlist = ["movie_id", "genre_id"]\n') == [
        "F: views.\"movie_[gk]*\".list[1]: 'genre_id' is not a column of 'movie_keywords'; "
        "expected one of: 'keyword', 'keyword_id', 'movie', 'movie_id' "
        "[backoffice.E012]"]


def test_a_valid_file_has_no_problem(problems):
    assert problems("""
        [views.movies]
        list = ["title", "release_date"]
        sort = ["-release_date", "title"]
        never_show = ["overview"]
        links = { tmdb_id = "https://www.themoviedb.org/movie/{tmdb_id}?t={title}" }
        formatters = { release_date = { kind = "date", format = "%d %b %Y" } }
    """) == []


@pytest.fixture
def custom_package(tmp_path, monkeypatch):
    """Modules written here are discovered as if they were in views/custom/."""
    import views.custom

    folder = tmp_path / "custom"
    folder.mkdir()
    monkeypatch.setattr(views.custom, "__path__", [*views.custom.__path__, str(folder)])
    before = set(sys.modules)
    yield folder
    for name in set(sys.modules) - before:
        if name.startswith("views.custom."):
            del sys.modules[name]


def test_custom_view_naming_no_table_and_two_claims(problems, custom_package):
    (custom_package / "zz_checks_a.py").write_text(textwrap.dedent("""
        from views.base import ReflectedModelView

        class MovieView(ReflectedModelView):
            table = "movies"

        class MovieAgainView(ReflectedModelView):
            table = "movies"

        class PeopleView(ReflectedModelView):
            table = "peple"
    """))
    found = problems("")
    assert only(found, "E035") == [
        "F: views.custom.zz_checks_a.PeopleView.table: 'peple' is not a table or view; did you mean 'people'? "
        "[backoffice.E035]"]
    assert only(found, "E036") == [
        "F: views.custom.zz_checks_a.MovieView.table: 'movies' is already claimed by "
        "views.custom.zz_checks_a.MovieAgainView [backoffice.E036]"]
