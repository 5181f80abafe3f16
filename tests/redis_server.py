"""The tests' Redis: :mod:`testing_support.redis` plus what a missing binary means here."""
from __future__ import annotations

from testing_support.ports import free_port
from testing_support.redis import RedisServer, find_redis
from tests.services import require

__all__ = ["RedisServer", "redis_or_skip", "free_port"]


def redis_or_skip() -> str:
    """Path of redis-server, or skip (fail under BACKOFFICE_REQUIRE_REDIS=1)."""
    return require(find_redis(), "redis-server", "BACKOFFICE_REQUIRE_REDIS", "apt-get install redis-server")
