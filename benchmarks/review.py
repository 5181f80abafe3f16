"""The benchmark's review apply: what an operator's click on *Apply* costs, end to end.

One apply is two POSTs in one browser session, as the review queue page sends them:
*confirm* (``row_action=apply:<id>`` with the session's CSRF token; the answer carries
the signed token bound to that id) and *execute* (CSRF token plus the signed token;
answered with a redirect, not followed). Each apply takes a different pending review
whose candidate TMDB id no movie holds, one per movie, so every apply really changes a
row (and closes its movie's other pending reviews) instead of being skipped.

Plain Flask-Admin has no review queue; the nearest thing its operators have is the
movie's edit form: open it, change ``tmdb_id``, save. :func:`measure_plain_edit`
times exactly that (a GET of the form and the POST of every field as the form holds
it, with a TMDB id no movie has), on movies of its own, so the two can be compared.
"""
from __future__ import annotations

import http.cookiejar
import re
from html.parser import HTMLParser
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["applicable_reviews", "measure_review_apply", "applied_count", "editable_movies", "measure_plain_edit",
           "edited_count", "median_p95", "summary"]

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_TOKEN = re.compile(r'name="token" value="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the redirect after execute is the answer; the list it leads to is not


def median_p95(samples: list[float]) -> tuple[float, float]:
    """Median and 95th percentile (nearest rank) of the timings, in their unit."""
    xs = sorted(samples)
    return statistics.median(xs), xs[max(int(len(xs) * 0.95) - 1, 0)]


def summary(samples: list[float], unexpected: int) -> tuple[float, float, int]:
    """(median, p95, last unexpected status); no sample at all counts as a failure."""
    if not samples:
        return 0.0, 0.0, unexpected or 500
    return (*median_p95(samples), unexpected)


def applicable_reviews(engine, count: int) -> list[int]:
    """Ids of ``count`` pending reviews that an apply will carry out (not skip)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT min(r.id) FROM tmdb_match_reviews r WHERE r.status = 'pending' "
            "AND NOT EXISTS (SELECT 1 FROM movies m WHERE m.tmdb_id = r.candidate_tmdb_id) "
            "GROUP BY r.movie_id ORDER BY 1 LIMIT :n"), {"n": count}).scalars())


def applied_count(engine, ids: list[int]) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM tmdb_match_reviews WHERE status = 'applied' "
                                 "AND id = ANY(:ids)"), {"ids": ids}).scalar()


def measure_review_apply(base: str, ids: list[int], warmup: int = 3) -> tuple[float, float, int]:
    """Median and p95 ms of confirm + execute over ``ids`` (the first ``warmup`` not
    counted), and the last status that was not the expected one (0 when all were)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                         _NoRedirect())
    queue = base + "/admin/review-queue/"
    with opener.open(queue, timeout=60) as response:
        csrf = _CSRF.search(response.read().decode()).group(1)
    samples, unexpected = [], 0
    for index, review_id in enumerate(ids):
        started = time.perf_counter()
        status, body = _post(opener, queue + "confirm/", {"csrf_token": csrf, "row_action": f"apply:{review_id}"})
        token = _TOKEN.search(body)
        if status != 200 or token is None:
            unexpected = status
            continue
        status, _ = _post(opener, queue + "execute/", {"csrf_token": csrf, "token": token.group(1)})
        if status != 302:
            unexpected = status
        if index >= warmup:
            samples.append((time.perf_counter() - started) * 1000)
    return summary(samples, unexpected)


def _post(opener, url: str, fields: dict) -> tuple[int, str]:
    data = urllib.parse.urlencode(fields).encode()
    try:
        with opener.open(url, data=data, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def editable_movies(engine, count: int) -> list[tuple[int, int]]:
    """(movie id, a TMDB id no movie holds) for ``count`` movies with no pending review."""
    from sqlalchemy import text

    with engine.connect() as conn:
        top = conn.execute(text("SELECT coalesce(max(tmdb_id), 0) FROM movies")).scalar()
        ids = conn.execute(text(
            "SELECT m.id FROM movies m WHERE NOT EXISTS (SELECT 1 FROM tmdb_match_reviews r "
            "WHERE r.movie_id = m.id AND r.status = 'pending') ORDER BY m.id DESC LIMIT :n"), {"n": count}).scalars()
        return [(movie_id, top + 1 + i) for i, movie_id in enumerate(ids)]


def edited_count(engine, edits: list[tuple[int, int]]) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return sum(conn.execute(text("SELECT count(*) FROM movies WHERE id = :id AND tmdb_id = :tmdb"),
                                {"id": movie_id, "tmdb": tmdb_id}).scalar() for movie_id, tmdb_id in edits)


class _FormFields(HTMLParser):
    """The fields a browser would send from Flask-Admin's edit form (its buttons left out)."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and not name.startswith("_") and a.get("type") not in ("submit", "button"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields[name] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data


def measure_plain_edit(base: str, edits: list[tuple[int, int]], warmup: int = 3) -> tuple[float, float, int]:
    """Median and p95 ms of opening plain Flask-Admin's edit form and saving it with a new
    ``tmdb_id``, over ``edits`` (the first ``warmup`` not counted); the last unexpected status."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                         _NoRedirect())
    samples, unexpected = [], 0
    for index, (movie_id, tmdb_id) in enumerate(edits):
        url = f"{base}/admin/movies/edit/?id={movie_id}"
        started = time.perf_counter()
        with opener.open(url, timeout=60) as response:
            form = _FormFields()
            form.feed(response.read().decode())
        form.fields["tmdb_id"] = str(tmdb_id)
        status, _ = _post(opener, url, form.fields)
        if status != 302:
            unexpected = status
        if index >= warmup:
            samples.append((time.perf_counter() - started) * 1000)
    return summary(samples, unexpected)
