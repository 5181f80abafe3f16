"""Every environment variable the console reads, declared once as data.

Each :class:`Setting` names its variable, its default, how the text is converted
and what it means. :func:`load_settings` converts them all and reports every bad
value together; nothing else in the code base reads ``os.environ``.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["Settings", "SettingsError", "SETTINGS", "load_settings", "normalise_database_url", "redact_url", "signing_key",
           "MIN_SIGNING_KEY"]

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """One or more environment variables hold values the console cannot use."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


def _integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
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


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("1 or 0 (also true/false, yes/no, on/off)")


def _text(text: str) -> str:
    return text


def _realm(text: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("printable text without control characters")
    if not text.strip():
        raise ValueError("a non-empty realm name")
    return text


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


_MODULE_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _module_paths(text: str) -> tuple[str, ...]:
    paths = _names(text)
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


def _signing_keys(text: str) -> tuple[tuple[str, str], ...]:
    keys = tuple(signing_key(part) for part in text.split(",") if part.strip())
    if len({kid for kid, _ in keys}) != len(keys):
        raise ValueError("keys with distinct ids")
    return keys


def _replica_url(text: str) -> str:
    url = normalise_database_url(text)
    if not url.startswith("postgresql"):
        raise ValueError("a postgresql:// URL of a streaming replica (SQLite has no replicas)")
    return url


def _token(text: str) -> str:
    # A scrape token is a shared secret sent on every scrape: refuse one a person could guess.
    if len(text.strip()) < 16 or any(ch.isspace() or ord(ch) < 33 or ord(ch) > 126 for ch in text.strip()):
        raise ValueError("at least 16 printable ASCII characters without spaces (e.g. openssl rand -hex 32)")
    return text.strip()


#: Headers a client or the server itself controls: naming one of them as the
#: single-sign-on header would let anybody claim any identity.
_RESERVED_HEADERS = {"authorization", "cookie", "host", "x-forwarded-for", "x-forwarded-proto",
                     "x-forwarded-host", "x-forwarded-port", "x-request-id", "content-type", "content-length"}


def _header_name(text: str) -> str:
    name = text.strip()
    if not name or not all(ch.isalnum() or ch == "-" for ch in name):
        raise ValueError("an HTTP header name such as X-Forwarded-Email (letters, digits and dashes)")
    if name.lower() in _RESERVED_HEADERS:
        raise ValueError(f"a header set only by the sign-in proxy, not {name}")
    return name


def _networks(text: str) -> tuple[str, ...]:
    found = []
    for part in _names(text):
        try:
            found.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ValueError(f"comma-separated addresses or CIDR networks ({part!r} is neither)") from None
    return tuple(found)


def _allowed_networks(text: str) -> tuple[str, ...]:
    # Strict: "10.1.2.3/8" would silently widen to all of 10.0.0.0/8; say so instead of guessing.
    found = []
    for part in _names(text):
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


def _storage_uri(text: str) -> str:
    scheme = text.split("://", 1)[0] if "://" in text else ""
    if scheme not in ("memory", "redis", "rediss", "redis+unix"):
        raise ValueError("memory:// or redis://host:port")
    return text


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, default text, converter and meaning."""

    name: str
    default: str | None
    convert: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", None, normalise_database_url,
            "Target database; default: the demo catalog in a SQLite file in the instance folder"),
    Setting("PORT", "3000", _integer(1, 65535), "Port for `backoffice serve` and the container"),
    Setting("SECRET_KEY", None, _text,
            "Signs CSRF tokens; when unset one is generated once and kept in the instance folder"),
    Setting("OPERATOR_AUTH_USERNAME", None, _text, "The single operator account (role admin)"),
    Setting("OPERATOR_AUTH_PASSWORD", None, _text, "Password of that account"),
    Setting("OPERATOR_AUTH_REQUIRED", "0", _flag, "1 = refuse every protected route when no credentials are configured"),
    Setting("OPERATOR_AUTH_REALM", "Backoffice Operators", _realm, "Realm of the basic-auth challenge"),
    Setting("OPERATOR_AUTH_USERS_FILE", None, _text, "File of username:role:password-hash lines"),
    Setting("OPERATOR_AUTH_RATE_LIMIT_MAX", "30", _integer(1), "Failed attempts allowed per client address per window"),
    Setting("OPERATOR_AUTH_RATE_LIMIT_WINDOW_SECONDS", "900", _integer(1), "Length of that window"),
    Setting("RATELIMIT_STORAGE_URI", None, _storage_uri,
            "Where failed-attempt counts live (default: REDIS_URL, else a file shared by this host's workers)"),
    Setting("REDIS_URL", None, _storage_uri, "The deployment's Redis; the failed-attempt store when "
            "RATELIMIT_STORAGE_URI is unset"),
    Setting("TRUSTED_PROXY_COUNT", "0", _integer(0, 10), "Reverse proxies whose X-Forwarded-For is trusted"),
    Setting("CATALOG_HEALTH_SAMPLE_LIMIT", "5", _integer(0, 100), "Sample movies shown per health check"),
    Setting("CATALOG_HEALTH_STALE_DAYS", "180", _integer(1), "Age after which TMDB data counts as stale"),
    Setting("CATALOG_HEALTH_CACHE_SECONDS", "60", _integer(0), "How long computed health figures are reused"),
    Setting("CATALOG_HEALTH_TIMEOUT_MS", "600000", _integer(0),
            "Statement timeout of the background health computation (0 = none)"),
    Setting("BACKOFFICE_CONFIG", None, _text, "Path of the declarative file (default backoffice.toml if present)"),
    Setting("BACKOFFICE_SCHEMAS", "", _names, "Extra PostgreSQL schemas to reflect, comma separated"),
    Setting("STATEMENT_TIMEOUT_MS", "5000", _integer(0), "PostgreSQL statement timeout per request (0 = none)"),
    Setting("BACKOFFICE_AUDIT_HOOKS", "", _names, "Extra audit hooks as dotted paths, comma separated"),
    Setting("BACKOFFICE_CUSTOM_VIEWS", "", _module_paths,
            "Modules of custom screens outside views/custom/, dotted paths, comma separated"),
    Setting("AUDIT_SIGNING_KEY", None, signing_key,
            "Keys the audit chain's MAC (kid:key or key, >= 32 characters); kept outside the database. "
            "Unset: a key generated once into the instance folder (warning logged)"),
    Setting("AUDIT_SIGNING_KEYS_OLD", "", _signing_keys,
            "Retired signing keys (kid:key, comma separated): rows they signed still verify"),
    Setting("AUDIT_CHECKPOINT_FILE", None, _text,
            "Signed checkpoints of the audit chain are appended here (default instance/audit-checkpoints.jsonl)"),
    Setting("AUDIT_CHECKPOINT_EVERY", "100", _integer(0),
            "A signed checkpoint every this many audit rows (0 = only `backoffice audit-checkpoint`)"),
    Setting("AUDIT_LOCK_TIMEOUT_MS", "10000", _integer(0),
            "Longest wait for the audit chain's lock before a write is refused (0 = no limit)"),
    Setting("DATABASE_REPLICA_URL", None, _replica_url,
            "A streaming replica for heavy read-only work (catalog health, its exports, queue counts)"),
    Setting("DATABASE_REPLICA_MAX_LAG_SECONDS", "30", _integer(0),
            "Replay lag beyond which reads go back to the primary (0 = the replica must be caught up)"),
    Setting("BACKOFFICE_METRICS_TOKEN", None, _token,
            "Bearer token Prometheus sends to read /metrics; unset: /metrics is a missing page"),
    Setting("PROMETHEUS_MULTIPROC_DIR", None, _text,
            "Directory of per-process metric files (set by console.gunicorn_conf for each server)"),
    Setting("OPERATOR_AUTH_PROXY_HEADER", None, _header_name,
            "Header carrying the operator signed in by a trusted proxy (e.g. X-Forwarded-Email)"),
    Setting("OPERATOR_AUTH_PROXY_ADDRESSES", "127.0.0.1,::1", _networks,
            "Addresses of the sign-in proxy; the header is honoured only from them"),
    Setting("OPERATOR_ALLOWED_NETWORKS", None, _allowed_networks,
            "Networks operators may connect from (CIDRs, IPv4/IPv6, comma separated); other addresses get "
            "a missing page before sign-in (health endpoints excepted). Unset: every address"),
    Setting("LOG_LEVEL", "INFO", lambda t: _choice(t, ("DEBUG", "INFO", "WARNING", "ERROR")), "Log level"),
)


def _choice(text: str, options: tuple[str, ...]) -> str:
    value = text.strip().upper()
    if value not in options:
        raise ValueError("one of " + ", ".join(options))
    return value


@dataclass(frozen=True)
class Settings:
    """Converted, validated configuration. Build it with :func:`load_settings`."""

    database_url: str | None = None
    port: int = 3000
    secret_key: str | None = None
    operator_auth_username: str | None = None
    operator_auth_password: str | None = None
    operator_auth_required: bool = False
    operator_auth_realm: str = "Backoffice Operators"
    operator_auth_users_file: str | None = None
    operator_auth_rate_limit_max: int = 30
    operator_auth_rate_limit_window_seconds: int = 900
    ratelimit_storage_uri: str | None = None
    redis_url: str | None = None
    trusted_proxy_count: int = 0
    catalog_health_sample_limit: int = 5
    catalog_health_stale_days: int = 180
    catalog_health_cache_seconds: int = 60
    catalog_health_timeout_ms: int = 600_000
    backoffice_config: str | None = None
    backoffice_schemas: tuple[str, ...] = ()
    statement_timeout_ms: int = 5000
    backoffice_audit_hooks: tuple[str, ...] = ()
    backoffice_custom_views: tuple[str, ...] = ()
    audit_signing_key: tuple[str, str] | None = field(default=None, repr=False)
    audit_signing_keys_old: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    audit_checkpoint_file: str | None = None
    audit_checkpoint_every: int = 100
    audit_lock_timeout_ms: int = 10000
    log_level: str = "INFO"
    database_replica_url: str | None = None
    database_replica_max_lag_seconds: int = 30
    backoffice_metrics_token: str | None = None
    prometheus_multiproc_dir: str | None = None
    operator_auth_proxy_header: str | None = None
    operator_auth_proxy_addresses: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    operator_allowed_networks: tuple[str, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def limit_storage_uri(self) -> str | None:
        """Where failed sign-ins are counted: RATELIMIT_STORAGE_URI, else REDIS_URL, else None
        (None: the file shared by the workers of this host, see ``backoffice/auth/store.py``)."""
        return self.ratelimit_storage_uri or self.redis_url

    @property
    def auth_configured(self) -> bool:
        """True when at least one operator account exists."""
        return bool(
            (self.operator_auth_username and self.operator_auth_password) or self.operator_auth_users_file
        )

    def config_path(self) -> Path | None:
        """The declarative file to read, or None when there is none."""
        if self.backoffice_config:
            return Path(self.backoffice_config)
        default = Path("backoffice.toml")
        return default if default.is_file() else None


def _proxy_sign_on_problems(values: Mapping[str, Any]) -> list[str]:
    """Single sign-on through a proxy needs the proxy trusted and a users file for roles."""
    header = values.get("operator_auth_proxy_header")
    if not header:
        return []
    problems = []
    if not values.get("trusted_proxy_count"):
        problems.append(f"OPERATOR_AUTH_PROXY_HEADER={header!r} needs TRUSTED_PROXY_COUNT of at least 1 "
                        "(the sign-in proxy in front of the console)")
    if not values.get("operator_auth_users_file"):
        problems.append(f"OPERATOR_AUTH_PROXY_HEADER={header!r} needs OPERATOR_AUTH_USERS_FILE: "
                        "it gives each signed-in user a role (unknown users get no access)")
    return problems


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Convert every declared variable from ``environ`` (default ``os.environ``).

    Raises :class:`SettingsError` naming each bad variable, its value and what
    was expected. An empty value counts as unset.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        if raw is None or raw == "":
            raw = setting.default
        if raw is None:
            continue
        try:
            values[setting.name.lower()] = setting.convert(raw)
        except ValueError as exc:
            if any(w in setting.name for w in ("PASSWORD", "SECRET", "KEY", "TOKEN")):
                shown = "<hidden>"
            else:  # a URL's password is a secret too
                shown = repr(redact_url(raw) if setting.name.endswith(("_URL", "_URI")) else raw)
            problems.append(f"{setting.name}={shown} is not valid: expected {exc}")
    if bool(values.get("operator_auth_username")) != bool(values.get("operator_auth_password")):
        problems.append(
            "OPERATOR_AUTH_USERNAME and OPERATOR_AUTH_PASSWORD must be set together (only one of them is set)"
        )
    problems.extend(_proxy_sign_on_problems(values))
    if problems:
        raise SettingsError(problems)
    known = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in values.items() if k in known})
