"""Queue declarations: defaults, custom queues, and every E07x message exactly."""
import pytest

from backoffice.core.declarations import check_all, load_declarations
from console.app import console_rules
from queues.spec import queue_specs


@pytest.fixture
def reflection(app):
    return app.extensions["backoffice.reflection"]


def _problems(tmp_path, reflection, text):
    path = tmp_path / "backoffice.toml"
    path.write_text(text)
    declarations = load_declarations(path)
    return declarations, [p for p in check_all(declarations, reflection, console_rules())
                          if p.id.startswith(("backoffice.E07", "backoffice.E08"))]


def test_default_tmdb_queue_when_file_declares_none(reflection):
    specs = queue_specs(load_declarations(None), reflection)
    assert [s.name for s in specs] == ["tmdb_matches"]
    tmdb = specs[0]
    assert tmdb.url == "review-queue"
    assert {a: (s.from_states, s.to) for a, s in tmdb.actions.items()} == {
        "apply": (("pending", "deferred"), "applied"),
        "reject": (("pending", "deferred"), "rejected"),
        "defer": (("pending",), "deferred"),
        "reopen": (("deferred",), "pending"),
    }
    assert tmdb.actions["reject"].reason == "required"


def test_a_second_queue_on_another_table_needs_no_code(app, tmp_path, reflection, make_app):
    declarations, problems = _problems(tmp_path, reflection, '''
[queues.tmdb_matches]
table = "tmdb_match_reviews"
actions.reject = { from = ["pending"], to = "rejected", reason = "required" }

[queues.genre_cleanup]
table = "genres"
label = "Genre cleanup"
status = "name"
default_state = "Drama"
decided_by = ""
decided_at = ""
note = ""
updated_at = ""
created_at = ""
score = ""
show = ["tmdb_genre_id"]
actions.rename = { from = ["Drama"], to = "Drama (reviewed)", reason = "none" }
''')
    assert problems == []
    specs = queue_specs(declarations, reflection)
    assert [s.url for s in specs] == ["review-queue", "queues/genre_cleanup"]
    configured = make_app(BACKOFFICE_CONFIG=str(tmp_path / "backoffice.toml"))
    client = configured.test_client()
    assert "1 row" in client.get("/admin/queues/genre_cleanup/").get_data(as_text=True)


@pytest.mark.parametrize("body, expected", [
    ('[queues.q]\ntable = "movie"\nactions.a = { from = ["x"], to = "y" }',
     "queues.q.table: 'movie' is not a reflected table; did you mean 'movies'? [backoffice.E070]"),
    ('[queues.q]\ntable = "tmdb_match_reviews"\nstatus = "state"\nactions.a = { from = ["x"], to = "y" }',
     "queues.q.status: 'state' is not a column of 'tmdb_match_reviews'; did you mean 'status'? [backoffice.E071]"),
    ('[queues.q]\ntable = "tmdb_match_reviews"',
     "queues.q.actions: the queue declares no actions [backoffice.E072]"),
    ('[queues.q]\ntable = "tmdb_match_reviews"\nactions.a = { from = ["x"], to = "y", efect = "m:f" }',
     "queues.q.actions.a.efect: unknown action option 'efect'; did you mean 'effect'? [backoffice.E073]"),
    ('[queues.q]\ntable = "tmdb_match_reviews"\nactions.a = { from = ["x"], to = "y", effect = "queues.effects:nope" }',
     "queues.q.actions.a.effect: cannot import 'queues.effects:nope': "
     "module 'queues.effects' has no attribute 'nope' [backoffice.E074]"),
    ('[queues.q]\ntable = "tmdb_match_reviews"\nactions.a = { from = ["x"], to = "y", role = "admn" }',
     "queues.q.actions.a.role: unknown role 'admn'; did you mean 'admin'? [backoffice.E075]"),
    ('[queues.q]\ntable = "tmdb_match_reviews"\nactions.a = { from = ["x"], to = "y", approval = "boss" }',
     "queues.q.actions.a.approval: unknown role 'boss'; expected one of: 'admin', 'operator', 'viewer' "
     "[backoffice.E080]"),
    ('[queues.q]\ntable = "tmdb_match_reviews"\nactions.a = { from = ["x"], to = "y", reason = "always" }',
     "queues.q.actions.a.reason: 'always' is not one of required, optional, none; "
     "expected one of: 'none', 'optional', 'required' [backoffice.E076]"),
    ('[queues.q]\ntable = "tmdb_match_reviews"\nsubject = { table = "movies", column = "movie_id", show = ["titel"] }\n'
     'actions.a = { from = ["x"], to = "y" }',
     "queues.q.subject.show[0]: 'titel' is not a column of 'movies'; did you mean 'title'? [backoffice.E077]"),
    ('[queues.q]\ntable = "tmdb_match_reviews"\nactions.a = { from = ["x"], to = "y" }\n'
     '[queues.r]\ntable = "tmdb_match_reviews"\nurl = "review-queue"\nactions.a = { from = ["x"], to = "y" }',
     "queues.r.url: 'review-queue' is already the URL of queue 'q' [backoffice.E078]"),
])
def test_every_queue_check_message(tmp_path, reflection, body, expected):
    declarations, problems = _problems(tmp_path, reflection, body)
    assert [str(p) for p in problems] == [f"{tmp_path / 'backoffice.toml'}: {expected}"]


def test_queue_errors_stop_start_up(tmp_path, make_app):
    from backoffice.core.declarations import DeclarationError

    path = tmp_path / "backoffice.toml"
    path.write_text('[queues.q]\ntable = "nope"\nactions.a = { from = ["x"], to = "y" }\n')
    with pytest.raises(DeclarationError, match=r"E070"):
        make_app(BACKOFFICE_CONFIG=str(path))


def test_compared_pairs_name_real_columns_on_both_sides(tmp_path, reflection):
    _declarations, problems = _problems(tmp_path, reflection, '''
[queues.tmdb_matches]
table = "tmdb_match_reviews"
subject = { table = "movies", column = "movie_id", show = ["title"] }
compare = { Title = ["titel", "candidate_title"], Year = ["release_date", "candidate_year"], Odd = ["title"] }
actions.reject = { from = ["pending"], to = "rejected", reason = "required" }
''')
    found = {(p.id, p.where if hasattr(p, "where") else "", p.message) for p in problems}
    messages = " | ".join(p.message for p in problems)
    assert "'titel' is not a column of 'movies'" in messages
    assert "'candidate_year' is not a column of 'tmdb_match_reviews'" in messages
    assert "a compared pair is [subject column, queue column]" in messages
    assert len(found) == 3
