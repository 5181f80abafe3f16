"""Every environment variable the console reads, declared once as data.

Each :class:`Setting` names its variable, its default, how the text is converted
and what it means. :func:`load_settings` converts them all and reports every bad
value together; nothing else in the code base reads ``os.environ``. The converters are in
:mod:`backoffice.core.converters`.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from backoffice.core import converters as convert
# Part of this module's public face since before the converters had a module of their own.
from backoffice.core.converters import MIN_SIGNING_KEY, normalise_database_url, redact_url, signing_key

__all__ = ["Settings", "SettingsError", "SETTINGS", "load_settings", "normalise_database_url", "redact_url",
           "signing_key",
           "MIN_SIGNING_KEY"]

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """One or more environment variables hold values the console cannot use."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, default text, converter and meaning."""

    name: str
    default: str | None
    convert: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", None, convert.normalise_database_url,
            "Target database; default: the demo catalog in a SQLite file in the instance folder"),
    Setting("PORT", "3000", convert.integer(1, 65535), "Port for `backoffice serve` and the container"),
    Setting("SECRET_KEY", None, convert.plain_text,
            "Signs CSRF tokens; when unset one is generated once and kept in the instance folder"),
    Setting("OPERATOR_AUTH_USERNAME", None, convert.plain_text, "The single operator account (role admin)"),
    Setting("OPERATOR_AUTH_PASSWORD", None, convert.plain_text, "Password of that account"),
    Setting("OPERATOR_AUTH_REQUIRED", "0", convert.flag,
            "1 = refuse every protected route when no credentials are configured"),
    Setting("OPERATOR_AUTH_REALM", "Backoffice Operators", convert.realm, "Realm of the basic-auth challenge"),
    Setting("OPERATOR_AUTH_USERS_FILE", None, convert.plain_text, "File of username:role:password-hash lines"),
    Setting("OPERATOR_AUTH_RATE_LIMIT_MAX", "30", convert.integer(1),
            "Failed attempts allowed per client address per window"),
    Setting("OPERATOR_AUTH_RATE_LIMIT_WINDOW_SECONDS", "900", convert.integer(1), "Length of that window"),
    Setting("RATELIMIT_STORAGE_URI", None, convert.storage_uri,
            "Where failed-attempt counts live (default: REDIS_URL, else a file shared by this host's workers)"),
    Setting("REDIS_URL", None, convert.storage_uri, "The deployment's Redis; the failed-attempt store when "
            "RATELIMIT_STORAGE_URI is unset"),
    Setting("TRUSTED_PROXY_COUNT", "0", convert.integer(0, 10), "Reverse proxies whose X-Forwarded-For is trusted"),
    Setting("CATALOG_HEALTH_SAMPLE_LIMIT", "5", convert.integer(0, 100), "Sample movies shown per health check"),
    Setting("CATALOG_HEALTH_STALE_DAYS", "180", convert.integer(1), "Age after which TMDB data counts as stale"),
    Setting("CATALOG_HEALTH_CACHE_SECONDS", "60", convert.integer(0), "How long computed health figures are reused"),
    Setting("CATALOG_HEALTH_TIMEOUT_MS", "600000", convert.integer(0),
            "Statement timeout of the background health computation (0 = none)"),
    Setting("BACKOFFICE_CONFIG", None, convert.plain_text,
            "Path of the declarative file (default backoffice.toml if present)"),
    Setting("BACKOFFICE_SCHEMAS", "", convert.name_list, "Extra PostgreSQL schemas to reflect, comma separated"),
    Setting("STATEMENT_TIMEOUT_MS", "5000", convert.integer(0), "PostgreSQL statement timeout per request (0 = none)"),
    Setting("BACKOFFICE_AUDIT_HOOKS", "", convert.name_list, "Extra audit hooks as dotted paths, comma separated"),
    Setting("BACKOFFICE_CUSTOM_VIEWS", "", convert.module_paths,
            "Modules of custom screens outside views/custom/, dotted paths, comma separated"),
    Setting("AUDIT_SIGNING_KEY", None, convert.signing_key,
            "Keys the audit chain's MAC (kid:key or key, >= 32 characters); kept outside the database. "
            "Unset: a key generated once into the instance folder (warning logged)"),
    Setting("AUDIT_SIGNING_KEYS_OLD", "", convert.signing_keys,
            "Retired signing keys (kid:key, comma separated): rows they signed still verify"),
    Setting("AUDIT_CHECKPOINT_FILE", None, convert.plain_text,
            "Signed checkpoints of the audit chain are appended here (default instance/audit-checkpoints.jsonl)"),
    Setting("AUDIT_CHECKPOINT_EVERY", "100", convert.integer(0),
            "A signed checkpoint every this many audit rows (0 = only `backoffice audit-checkpoint`)"),
    Setting("AUDIT_LOCK_TIMEOUT_MS", "10000", convert.integer(0),
            "Longest wait for the audit chain's lock before a write is refused (0 = no limit)"),
    Setting("DATABASE_REPLICA_URL", None, convert.replica_url,
            "A streaming replica for heavy read-only work (catalog health, exports, lists of large tables, "
            "queue counts)"),
    Setting("DATABASE_REPLICA_MAX_LAG_SECONDS", "30", convert.integer(0),
            "Replay lag beyond which reads go back to the primary (0 = the replica must be caught up)"),
    Setting("DATABASE_REPLICA_MIN_ROWS", "100000", convert.integer(0),
            "Lists and counts of tables estimated at this many rows or more read from the replica"),
    Setting("BACKOFFICE_METRICS_TOKEN", None, convert.secret_token,
            "Bearer token Prometheus sends to read /metrics; unset: /metrics is a missing page"),
    Setting("PROMETHEUS_MULTIPROC_DIR", None, convert.plain_text,
            "Directory of per-process metric files (set by console.gunicorn_conf for each server)"),
    Setting("OPERATOR_AUTH_PROXY_HEADER", None, convert.header_name,
            "Header carrying the operator signed in by a trusted proxy (e.g. X-Forwarded-Email)"),
    Setting("OPERATOR_AUTH_PROXY_ADDRESSES", "127.0.0.1,::1", convert.networks,
            "Addresses of the sign-in proxy; the header is honoured only from them"),
    Setting("OPERATOR_ALLOWED_NETWORKS", None, convert.allowed_networks,
            "Networks operators may connect from (CIDRs, IPv4/IPv6, comma separated); other addresses get "
            "a missing page before sign-in (health endpoints excepted). Unset: every address"),
    Setting("LOG_LEVEL", "INFO", lambda t: convert.choice(t, ("DEBUG", "INFO", "WARNING", "ERROR")), "Log level"),
)


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
    database_replica_min_rows: int = 100_000
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
