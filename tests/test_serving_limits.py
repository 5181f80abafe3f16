"""The failed sign-in limit holds whatever the number of gunicorn workers (a store they
share) and, with Redis, whatever the number of instances; one lockout line per address."""
from __future__ import annotations

import json

import pytest

from tests.auth_helpers import ADMIN, ENV, basic
from tests.gunicorn_server import Gunicorn
from tests.redis_server import RedisServer, redis_or_skip

pytestmark = pytest.mark.slow
LIMIT = 5
WRONG = basic(ADMIN[0], "wrong")
RIGHT = basic(*ADMIN)


def _env(url: str, **extra) -> dict:
    return {"DATABASE_URL": url, "SECRET_KEY": "k", "LOG_LEVEL": "INFO",
            "OPERATOR_AUTH_RATE_LIMIT_MAX": str(LIMIT), **ENV, **extra}


def _lockouts(*servers) -> int:
    count = 0
    for server in servers:
        for line in server.log().splitlines():
            if line.startswith("{") and json.loads(line).get("event") == "auth.lockout":
                count += 1
    return count


@pytest.mark.parametrize("workers", [2, 3])
def test_the_limit_is_shared_by_every_worker(sqlite_demo_url, tmp_path, workers):
    server = Gunicorn.start(_env(sqlite_demo_url), cwd=tmp_path, workers=workers)
    try:
        statuses = [server.get("/admin/", headers=WRONG).status for _ in range(LIMIT * workers + 20)]
        locked = server.get("/admin/", headers=RIGHT).status
    finally:
        server.stop()
    assert statuses[:LIMIT] == [401] * LIMIT
    assert set(statuses[LIMIT:]) == {429}, statuses  # the (N+1)-th failure is refused, on any worker
    assert locked == 429
    assert _lockouts(server) == 1  # one line per address and window, not one per refused request


@pytest.mark.redis
def test_with_redis_url_two_instances_share_the_limit(sqlite_demo_url, tmp_path):
    redis = RedisServer.start(redis_or_skip())
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    try:
        first = Gunicorn.start(_env(sqlite_demo_url, REDIS_URL=redis.url), cwd=first_dir)
        second = Gunicorn.start(_env(sqlite_demo_url, REDIS_URL=redis.url), cwd=second_dir)
        try:
            statuses = [(first if i % 2 else second).get("/admin/", headers=WRONG).status
                        for i in range(LIMIT + 10)]
            redis.stop()
            down = [first.get("/admin/", headers=RIGHT), second.get("/admin/", headers=WRONG)]
            health = first.get("/healthz").status
        finally:
            first.stop()
            second.stop()
    finally:
        redis.stop()
    assert statuses[:LIMIT] == [401] * LIMIT and set(statuses[LIMIT:]) == {429}, statuses
    assert _lockouts(first, second) == 1
    assert [r.status for r in down] == [503, 503]  # Redis down: fail closed, clearly
    assert b"cannot be reached" in down[0].body and down[0].headers["x-request-id"]
    assert health == 200
