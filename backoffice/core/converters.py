"""How each environment variable's text becomes a value: one converter per kind of value
(``backoffice.core.settings`` declares which variable uses which). A converter returns
the value or raises ``ValueError`` whose text says what was expected."""
from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["allowed_networks", "choice", "flag", "header_name", "integer", "module_paths", "name_list",
           "networks", "plain_text", "realm", "replica_url", "secret_token", "signing_keys", "storage_uri",
           "normalise_database_url", "redact_url", "signing_key", "MIN_SIGNING_KEY"]


def integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    expected = f"an integer between {minimum} and {maximum}" if maximum is not None else f"an integer >= {minimum}"

    def convert(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(expected) from None
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(expected)
        return value

    return convert


def flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("1 or 0 (also true/false, yes/no, on/off)")


def plain_text(text: str) -> str:
    return text


def realm(text: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("printable text without control characters")
    if not text.strip():
        raise ValueError("a non-empty realm name")
    return text


def name_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


_MODULE_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def module_paths(text: str) -> tuple[str, ...]:
    paths = name_list(text)
    bad = [path for path in paths if not _MODULE_PATH.fullmatch(path)]
    if bad:
        raise ValueError(f"dotted module paths such as my_console.screens, comma separated ({bad[0]!r} is not one)")
    return paths


def normalise_database_url(text: str) -> str:
    """Return ``text`` as a SQLAlchemy URL with an explicit, installed driver.

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, which is not a
    dependency here; ``postgres://`` (Heroku style) is not understood at all.
    """
    text = text.strip()
    for prefix in ("postgres://", "postgresql://"):
        if text.startswith(prefix):
            text = "postgresql+psycopg2://" + text[len(prefix):]
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ValueError("a database URL such as postgresql://user:pass@host/db or sqlite:///path.db") from None
    if url.get_backend_name() not in ("postgresql", "sqlite"):
        raise ValueError("a postgresql:// or sqlite:/// URL")
    if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg2":
        raise ValueError("a PostgreSQL URL using the psycopg2 driver (postgresql:// or postgresql+psycopg2://)")
    return url.render_as_string(hide_password=False)


# "scheme://user:password@" up to the last "@" (a careless password may hold "@" or "/"),
# and libpq's "?password=" query parameter.
_URL_PASSWORD = re.compile(r"(://[^/@:]*:).*@")
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&]*")


def redact_url(text: str) -> str:
    """``text`` (a database or Redis URL, parseable or not) with its password shown as ``***``:
    what every message, log line and echo shows of a URL.

    Done on the text, not through SQLAlchemy's ``render_as_string(hide_password=True)``:
    that needs a URL it can parse, and it parses an unescaped "@" in a password as the
    start of the host, showing the rest of the password as host and database name.
    """
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text.strip()))


_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
#: Shortest signing key accepted: 32 characters (e.g. ``secrets.token_urlsafe(32)`` gives 43).
MIN_SIGNING_KEY = 32


def _key_id(key: str) -> str:
    # A stable, short name for a key given without one; a fingerprint, not the key.
    return "k" + hashlib.sha256(b"backoffice-audit-key-id:" + key.encode()).hexdigest()[:8]


def signing_key(text: str) -> tuple[str, str]:
    """``kid:key`` or a bare key (its id is then derived from it) -> (kid, key)."""
    text = text.strip()
    kid, sep, rest = text.partition(":")
    if sep and _KEY_ID.fullmatch(kid) and len(rest) >= MIN_SIGNING_KEY:
        return kid, rest
    if len(text) < MIN_SIGNING_KEY:
        raise ValueError(f"a key of at least {MIN_SIGNING_KEY} characters, optionally as kid:key "
                         "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return _key_id(text), text


def signing_keys(text: str) -> tuple[tuple[str, str], ...]:
    keys = tuple(signing_key(part) for part in text.split(",") if part.strip())
    if len({kid for kid, _ in keys}) != len(keys):
        raise ValueError("keys with distinct ids")
    return keys


def replica_url(text: str) -> str:
    url = normalise_database_url(text)
    if not url.startswith("postgresql"):
        raise ValueError("a postgresql:// URL of a streaming replica (SQLite has no replicas)")
    return url


def secret_token(text: str) -> str:
    # A scrape token is a shared secret sent on every scrape: refuse one a person could guess.
    if len(text.strip()) < 16 or any(ch.isspace() or ord(ch) < 33 or ord(ch) > 126 for ch in text.strip()):
        raise ValueError("at least 16 printable ASCII characters without spaces (e.g. openssl rand -hex 32)")
    return text.strip()


#: Headers a client or the server itself controls: naming one of them as the
#: single-sign-on header would let anybody claim any identity.
_RESERVED_HEADERS = {"authorization", "cookie", "host", "x-forwarded-for", "x-forwarded-proto",
                     "x-forwarded-host", "x-forwarded-port", "x-request-id", "content-type", "content-length"}


def header_name(text: str) -> str:
    name = text.strip()
    if not name or not all(ch.isalnum() or ch == "-" for ch in name):
        raise ValueError("an HTTP header name such as X-Forwarded-Email (letters, digits and dashes)")
    if name.lower() in _RESERVED_HEADERS:
        raise ValueError(f"a header set only by the sign-in proxy, not {name}")
    return name


def networks(text: str) -> tuple[str, ...]:
    found = []
    for part in name_list(text):
        try:
            found.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ValueError(f"comma-separated addresses or CIDR networks ({part!r} is neither)") from None
    return tuple(found)


def allowed_networks(text: str) -> tuple[str, ...]:
    # Strict: "10.1.2.3/8" would silently widen to all of 10.0.0.0/8; say so instead of guessing.
    found = []
    for part in name_list(text):
        try:
            found.append(str(ipaddress.ip_network(part)))
        except ValueError:
            try:
                meant = ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"comma-separated IPv4/IPv6 addresses or CIDR networks such as 10.0.0.0/8 "
                                 f"or 2001:db8::/32 ({part!r} is neither)") from None
            raise ValueError(f"CIDR networks without host bits ({part!r} has host bits set: "
                             f"write {meant} for the whole network or {part.split('/')[0]} for one address)") from None
    if not found:
        raise ValueError("at least one network (leave the variable unset to allow every address)")
    return tuple(found)


def storage_uri(text: str) -> str:
    scheme = text.split("://", 1)[0] if "://" in text else ""
    if scheme not in ("memory", "redis", "rediss", "redis+unix"):
        raise ValueError("memory:// or redis://host:port")
    return text


def choice(text: str, options: tuple[str, ...]) -> str:
    value = text.strip().upper()
    if value not in options:
        raise ValueError("one of " + ", ".join(options))
    return value
