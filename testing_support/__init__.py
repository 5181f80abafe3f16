"""Helpers shared by the test suite and the benchmarks, written once.

Throwaway services on loopback (PostgreSQL run as the ``postgres`` user when we are
root, Redis), free ports, and waiting for a served app. Nothing here is part of the
console: the package lives beside it at the repository root and is left out of the
wheel and the image (pyproject's package list, the Dockerfile's COPY lines).
It does not import pytest: the tests decide what a missing binary means (skip, or
fail in CI), the benchmarks say so and stop.
"""
from testing_support.ports import free_port
from testing_support.postgres import PostgresServer, find_binaries, postgres_required
from testing_support.redis import RedisServer, find_redis
from testing_support.serving import stop_process, wait_until_serving

__all__ = ["free_port", "PostgresServer", "find_binaries", "postgres_required", "RedisServer", "find_redis",
           "stop_process", "wait_until_serving"]
