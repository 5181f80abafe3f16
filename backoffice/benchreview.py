"""The benchmark's review apply: what an operator's click on *Apply* costs, end to end.

One apply is two POSTs in one browser session, as the review queue page sends them:
*confirm* (``row_action=apply:<id>`` with the session's CSRF token; the answer carries
the signed token bound to that id) and *execute* (CSRF token plus the signed token;
answered with a redirect, not followed). Each apply takes a different pending review
whose candidate TMDB id no movie holds, one per movie, so every apply really changes a
row (and closes its movie's other pending reviews) instead of being skipped.
"""
from __future__ import annotations

import http.cookiejar
import re
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["applicable_reviews", "measure_review_apply", "applied_count"]

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_TOKEN = re.compile(r'name="token" value="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the redirect after execute is the answer; the list it leads to is not


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
    samples.sort()
    if not samples:
        return 0.0, 0.0, unexpected or 500
    return statistics.median(samples), samples[max(int(len(samples) * 0.95) - 1, 0)], unexpected


def _post(opener, url: str, fields: dict) -> tuple[int, str]:
    data = urllib.parse.urlencode(fields).encode()
    try:
        with opener.open(url, data=data, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
