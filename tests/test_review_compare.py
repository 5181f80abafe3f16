"""How a proposal's declared pairs are compared (issue 19, item 4): the difference is named,
never guessed, and a date difference says how far apart the dates are."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from queues.spec import DEFAULT_QUEUES
from views.review_compare import compare_pairs, date_gap, score_badge

PAIRS = {label: tuple(pair) for label, pair in DEFAULT_QUEUES["tmdb_matches"]["compare"].items()}


def test_the_default_queue_declares_title_release_date_and_tmdb_id():
    assert list(PAIRS) == ["Title", "Release date", "TMDB id"]


def test_a_release_45_years_off_is_named_with_its_size():
    movie = SimpleNamespace(title="Harbour", release_date=dt.date(1933, 3, 2), tmdb_id=7)
    review = SimpleNamespace(candidate_title="Harbour", candidate_release_date=dt.date(1978, 3, 2),
                             candidate_tmdb_id=7)
    compared = {c.label: c.difference for c in compare_pairs(PAIRS, movie, review)}
    assert compared == {"Title": "", "Release date": "45 years apart", "TMDB id": ""}


def test_differences_are_stated_not_guessed():
    movie = SimpleNamespace(title="Harbour", release_date=None, tmdb_id=7)
    review = SimpleNamespace(candidate_title="harbour ", candidate_release_date=dt.date(2000, 1, 1),
                             candidate_tmdb_id=9)
    compared = {c.label: c.difference for c in compare_pairs(PAIRS, movie, review)}
    assert compared == {"Title": "differs in case or spacing only", "Release date": "ours is empty",
                        "TMDB id": "differs"}  # two ids' distance means nothing
    gone = {c.label: (c.ours, c.difference) for c in compare_pairs(PAIRS, None, review)}
    assert gone["Title"] == (None, "ours is empty")


def test_numbers_are_off_by_their_exact_difference():
    pairs = {"Runtime": ("runtime_minutes", "candidate_runtime"), "Rating": ("rating", "candidate_rating")}
    movie = SimpleNamespace(runtime_minutes=7_892_160, rating=7.25)
    review = SimpleNamespace(candidate_runtime=1, candidate_rating=7.5)
    compared = {c.label: c.difference for c in compare_pairs(pairs, movie, review)}
    assert compared == {"Runtime": "off by 7,892,159", "Rating": "off by 0.25"}


def test_date_gaps_and_score_badges():
    assert date_gap(dt.date(2020, 1, 1), dt.date(2020, 1, 2)) == "1 day apart"
    assert date_gap(dt.date(2020, 3, 1), dt.date(2020, 1, 1)) == "2 months apart"
    assert date_gap(dt.date(2020, 1, 1), dt.date(2021, 1, 1)) == "1 year apart"
    assert score_badge(0.95) == ("0.95", "success")
    assert score_badge(0.75) == ("0.75", "warning")
    assert score_badge(0.2) == ("0.20", "danger")
    assert score_badge(None) == ("no score", "secondary")
