"""Sign-in events: first sign-ins, failures and lockouts, kept in ``backoffice_security_events``.

Bounded by construction, so a brute-force run cannot flood the database:

* a successful sign-in is recorded once per operator and address (the first time this
  process sees the pair, and the row is inserted only if missing), never per request;
* failures and lockouts are counted, not appended: one row per address and window
  (the failed-sign-in window, ``OPERATOR_AUTH_RATE_LIMIT_WINDOW_SECONDS``) whose count
  grows. IPv6 addresses count per /64 (one host holds a whole /64), and beyond
  :data:`MAX_ADDRESSES_PER_WINDOW` addresses in one window the rest share the row of
  address ``*``: at most that many rows per kind and window, whatever the attacker holds.

Recording never decides a request: a database that cannot take the event is logged and
the answer (401, 429, the page) is the same.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import threading

from flask import Flask, current_app, g
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from models.own import security_events

__all__ = ["SignInEvents", "init_app", "recorder", "address_key", "KINDS", "MAX_ADDRESSES_PER_WINDOW", "OTHER_ADDRESSES"]

log = logging.getLogger("backoffice.auth")

#: kind -> what an operator reads on the audit screen's tab.
KINDS = {"sign_in": "first sign-in from this address", "sign_in_failed": "failed sign-in attempts",
         "lockout": "locked out after too many failures"}
MAX_ADDRESSES_PER_WINDOW = 1000
OTHER_ADDRESSES = "*"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_SEEN_LIMIT = 10_000  # pairs remembered per process; beyond it the database's unique key still holds


def address_key(address: str | None) -> str:
    """The address an aggregated event is counted under (IPv6 by /64)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return (address or "unknown")[:64]
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


class SignInEvents:
    """Writes the console's sign-in events on ``engine`` (the console's own database)."""

    def __init__(self, engine_of, window_seconds: int, max_addresses: int = MAX_ADDRESSES_PER_WINDOW):
        self._engine_of = engine_of  # resolved at write time: the database is set up after auth
        self.window_seconds = window_seconds
        self.max_addresses = max_addresses
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        return self._engine_of()

    def window_start(self, now: dt.datetime) -> dt.datetime:
        seconds = int(now.timestamp()) // self.window_seconds * self.window_seconds
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)

    # -- what the guard calls ------------------------------------------------------------
    def signed_in(self, username: str, address: str | None) -> None:
        """Record the first sign-in of ``username`` from ``address`` (once per pair)."""
        pair = (username[:200], (address or "unknown")[:64])
        with self._lock:
            if pair in self._seen:
                return
        now = dt.datetime.now(dt.timezone.utc)
        t = security_events
        try:
            with self.engine.begin() as conn:
                exists = conn.execute(select(t.c.id).where(
                    t.c.kind == "sign_in", t.c.username == pair[0], t.c.client_addr == pair[1],
                    t.c.window_start == _EPOCH)).first()
                if exists is None:
                    conn.execute(insert(t).values(kind="sign_in", username=pair[0], client_addr=pair[1],
                                                  window_start=_EPOCH, first_at=now, last_at=now, count=1))
        except IntegrityError:
            pass  # another worker recorded the same first sign-in a moment ago
        except Exception as exc:  # the answer to the request matters more than its record
            self._failed(exc)
            return
        with self._lock:
            if len(self._seen) >= _SEEN_LIMIT:
                self._seen.clear()
            self._seen.add(pair)

    def failed(self, address: str | None, tried: str | None) -> None:
        """Count one failed sign-in from ``address`` in the current window."""
        self._count("sign_in_failed", address, tried)

    def locked_out(self, address: str | None, tried: str | None) -> None:
        """Count one lockout of ``address`` in the current window."""
        self._count("lockout", address, tried)

    # -- the bounded counter -------------------------------------------------------------
    def _count(self, kind: str, address: str | None, tried: str | None) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        window = self.window_start(now)
        key = address_key(address)
        try:
            if not self._bump(kind, key, window, now):
                if self._addresses(kind, window) >= self.max_addresses:
                    key = OTHER_ADDRESSES
                if not self._bump(kind, key, window, now):
                    try:
                        with self.engine.begin() as conn:
                            conn.execute(insert(security_events).values(
                                kind=kind, client_addr=key, username="", tried=(tried or "")[:200] or None,
                                window_start=window, first_at=now, last_at=now, count=1))
                    except IntegrityError:  # another worker created the row: count in it
                        self._bump(kind, key, window, now)
        except Exception as exc:  # the answer to the request matters more than its record
            self._failed(exc)

    def _bump(self, kind: str, key: str, window: dt.datetime, now: dt.datetime) -> bool:
        t = security_events
        with self.engine.begin() as conn:
            done = conn.execute(update(t).where(
                t.c.kind == kind, t.c.client_addr == key, t.c.username == "", t.c.window_start == window)
                .values(count=t.c.count + 1, last_at=now))
            return done.rowcount == 1

    def _addresses(self, kind: str, window: dt.datetime) -> int:
        t = security_events
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t).where(
                t.c.kind == kind, t.c.window_start == window)).scalar_one()

    @staticmethod
    def _failed(exc: Exception) -> None:
        log.error("could not record a sign-in event: %s", exc.__class__.__name__, exc_info=exc,
                  extra={"event": "auth.event_unrecorded", "request_id": g.get("request_id")})


def _app_engine() -> Engine:
    return current_app.extensions["sqlalchemy"].engine


def init_app(app: Flask, window_seconds: int) -> SignInEvents:
    """Keep the recorder in ``app.extensions``; the guard and the limiter call it."""
    events = SignInEvents(_app_engine, window_seconds)
    app.extensions["backoffice.signins"] = events
    return events


def recorder() -> SignInEvents | None:
    """The current app's recorder (None when the app was built without one)."""
    return current_app.extensions.get("backoffice.signins")
