"""A small time-to-live cache of health reports, shared by the requests of one process.

Computing every check costs up to a second on a large catalog, so the page reuses
a report for ``CATALOG_HEALTH_CACHE_SECONDS``. One computation runs at a time per
key: requests arriving meanwhile wait for it and reuse its result instead of
piling the same queries onto the database. Each process keeps its own cache (the
instances stay stateless); the page always shows when its figures were computed.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TTLCache"]

T = TypeVar("T")


class TTLCache(Generic[T]):
    """``get(key, compute, refresh=False)``: a fresh cached value or a new one."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._values: dict[Hashable, tuple[float, T]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T], *, refresh: bool = False) -> T:
        asked_at = self._clock()
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            cached = self._values.get(key)
            if cached is not None:
                stamp, value = cached
                if stamp > asked_at:  # computed by another request while this one waited
                    return value
                if not refresh and self._clock() - stamp < self.ttl_seconds:
                    return value
            value = compute()
            self._values[key] = (self._clock(), value)
            return value

    def peek(self, key: Hashable) -> T | None:
        """The last value computed for ``key``, however old, or None; never computes."""
        cached = self._values.get(key)
        return None if cached is None else cached[1]

    def clear(self) -> None:
        with self._guard:
            self._values.clear()
