"""Operator accounts: the environment account, the users file, checked passwords.

The users file (``OPERATOR_AUTH_USERS_FILE``) holds one account a line::

    # comments and blank lines are ignored
    alice:admin:scrypt:32768:8:1$salt$hash
    bob:viewer:pbkdf2:sha256:600000$salt$hash

The hash is a werkzeug password hash (``backoffice hash-password`` prints one), or
``!`` for an account that signs in only through the single-sign-on proxy
(``OPERATOR_AUTH_PROXY_HEADER``, see :mod:`backoffice.auth.proxy`).
The file is read and validated once at start-up; a bad line stops start-up with
the file name and line number, never the hash.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from backoffice.core.access import ROLES, Operator
from backoffice.core.settings import Settings, SettingsError

__all__ = ["Account", "AccountBook", "UsersFileError", "load_accounts", "read_users_file",
           "CREDENTIAL_CACHE_SECONDS", "DEFAULT_HASH_METHOD", "hash_method", "verify_password", "NO_PASSWORD"]

#: How long a successful password check is remembered (in memory, per process).
CREDENTIAL_CACHE_SECONDS = 60
_CACHE_MAX_ENTRIES = 4096
_HASH_METHODS = ("scrypt", "pbkdf2")
#: werkzeug's default (what ``backoffice hash-password`` writes).
DEFAULT_HASH_METHOD = "scrypt"
#: The password field of an account that has no password (single sign-on only).
NO_PASSWORD = "!"


class UsersFileError(SettingsError):
    """The users file is missing, unreadable or has bad lines (all of them listed)."""


@dataclass(frozen=True)
class Account:
    """One operator account; ``secret`` is its werkzeug password hash."""

    username: str
    role: str
    secret: str = ""

    def __repr__(self) -> str:  # never show the secret, not even in a debugger or a log
        return f"Account({self.username!r}, {self.role!r})"


def _looks_like_hash(text: str) -> bool:
    method, _, rest = text.partition("$")
    return method.split(":", 1)[0] in _HASH_METHODS and rest.count("$") == 1 and all(rest.split("$"))


def read_users_file(path: str | Path) -> list[Account]:
    """Parse and validate a users file; raise :class:`UsersFileError` listing every bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsersFileError([f"OPERATOR_AUTH_USERS_FILE={str(path)!r}: cannot read the file: "
                              f"{exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise UsersFileError([f"OPERATOR_AUTH_USERS_FILE={str(path)!r}: the file is not UTF-8 text"]) from None
    accounts: list[Account] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        parts = line.split(":", 2)
        if len(parts) != 3:
            problems.append(f"{where}: expected username:role:password-hash")
            continue
        username, role, hashed = (p.strip() for p in parts)
        if not username or any(ch.isspace() for ch in username):
            problems.append(f"{where}: the username is empty or contains spaces")
        elif username in seen:
            problems.append(f"{where}: username {username!r} is already defined on line {seen[username]}")
        if role not in ROLES:
            problems.append(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
        if hashed != NO_PASSWORD and not _looks_like_hash(hashed):
            problems.append(f"{where}: the password is not a werkzeug hash "
                            "(scrypt:... or pbkdf2:...) nor ! (single sign-on only); create one with "
                            "`backoffice hash-password`")
        seen.setdefault(username, number)
        accounts.append(Account(username, role, hashed))
    if not problems and not accounts:
        problems.append(f"{path}: the users file holds no accounts")
    if problems:
        raise UsersFileError(problems)
    return accounts


def _digest(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def hash_method(hashed: str) -> str:
    """The method and cost part of a werkzeug hash (``scrypt:32768:8:1``, ``pbkdf2:sha256:600000``)."""
    return hashed.split("$", 1)[0]


#: The one password verifier every check goes through (werkzeug's); named so a test can
#: watch which hashes, of which method and cost, a sign-in attempt checks.
verify_password = check_password_hash


class AccountBook:
    """Checks credentials against the configured accounts, caching successes briefly.

    A werkzeug hash costs a deliberate key derivation (tens of milliseconds); basic
    auth sends the password with every request, so a success is remembered for
    :data:`CREDENTIAL_CACHE_SECONDS` under an HMAC of username and password with a
    key that lives only in this process: the cache never holds a password, and a
    wrong password never matches a cached entry.

    A failed check costs the same whatever the username: every check runs
    :func:`verify_password` once for each hash method (and cost) among the accounts,
    on the account's own hash for its method and on a placeholder hash of the same
    method and cost for the others, unknown usernames included. The environment
    account's password is hashed at start-up with the users file's method (werkzeug's
    default when there is no file), so the usual set-up costs one key derivation.
    """

    def __init__(self, accounts: list[Account], cache_seconds: int = CREDENTIAL_CACHE_SECONDS):
        self._accounts = {a.username: a for a in accounts}
        self._key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[float, Operator]] = {}
        self._lock = threading.Lock()
        self._running: dict[bytes, threading.Event] = {}
        self.cache_seconds = cache_seconds
        methods = dict.fromkeys(hash_method(a.secret) for a in accounts if a.secret != NO_PASSWORD)
        #: Every method checked on each attempt, each with a placeholder that matches no password.
        self._placeholders = {m: f"{m}${secrets.token_hex(8)}${'0' * 64}" for m in methods}

    def __len__(self) -> int:
        return len(self._accounts)

    @property
    def methods(self) -> tuple[str, ...]:
        """The hash methods (with their cost) each sign-in attempt runs, in order."""
        return tuple(self._placeholders)

    def check(self, username: str, password: str) -> Operator | None:
        """The operator these credentials belong to, or None."""
        if not username or not password:
            return None
        # Length-prefixed so ("ab", "c") and ("a", "bc") never share a key.
        key = _digest(self._key, f"{len(username)}:{username}{password}")
        cached = self._cached(key)
        if cached is not None:
            return cached
        # One derivation at a time per credentials: a browser (or a load balancer's pool) that
        # opens several connections at once with the same password pays for it once, not once
        # per connection. A failure is never cached, so each waiter then checks for itself.
        with self._lock:
            running = self._running.get(key)
            if running is None:
                running = self._running[key] = threading.Event()
                mine = True
            else:
                mine = False
        if not mine:
            running.wait()
            cached = self._cached(key)
            if cached is not None:
                return cached
            return self._verify(username, password)
        try:
            operator = self._verify(username, password)
            if operator is not None and self.cache_seconds > 0:
                self._remember(key, time.monotonic() + self.cache_seconds, operator)
            return operator
        finally:
            with self._lock:
                self._running.pop(key, None)
            running.set()

    def _cached(self, key: bytes) -> Operator | None:
        cached = self._cache.get(key)
        return cached[1] if cached is not None and cached[0] > time.monotonic() else None

    def lookup(self, username: str) -> Operator | None:
        """The operator named ``username`` without any password check: only for an
        identity a trusted sign-in proxy vouched for (:mod:`backoffice.auth.proxy`)."""
        account = self._accounts.get(username)
        return Operator(account.username, account.role) if account is not None else None

    def _verify(self, username: str, password: str) -> Operator | None:
        account = self._accounts.get(username)
        # An account that signs in through the proxy only (``!``) never matches a password.
        own = account.secret if account is not None and account.secret != NO_PASSWORD else None
        ok = False
        for method, placeholder in self._placeholders.items():
            target = own if own is not None and hash_method(own) == method else placeholder
            try:
                matched = verify_password(target, password)
            except (ValueError, TypeError):  # validated at start-up; belt and braces
                matched = False
            ok = ok or (matched and target is own)
        return Operator(account.username, account.role) if ok and account is not None else None

    def _remember(self, key: bytes, expires: float, operator: Operator) -> None:
        with self._lock:
            if len(self._cache) >= _CACHE_MAX_ENTRIES:
                now = time.monotonic()
                for stale in [k for k, (until, _) in self._cache.items() if until <= now]:
                    del self._cache[stale]
                if len(self._cache) >= _CACHE_MAX_ENTRIES:
                    self._cache.clear()
            self._cache[key] = (expires, operator)


def load_accounts(settings: Settings) -> AccountBook:
    """Every configured account: the environment one (role admin) and the users file."""
    from_file: list[Account] = []
    if settings.operator_auth_users_file:
        from_file = read_users_file(settings.operator_auth_users_file)
        clash = [a.username for a in from_file if a.username == settings.operator_auth_username]
        if clash:
            raise UsersFileError([f"{settings.operator_auth_users_file}: username {clash[0]!r} is also "
                                  "OPERATOR_AUTH_USERNAME; use one or the other"])
    accounts: list[Account] = []
    if settings.operator_auth_username and settings.operator_auth_password:
        # Hashed now, with the method the file's accounts use: checking it then costs what
        # checking any other account (or an unknown name) costs.
        method = hash_method(from_file[0].secret) if from_file else DEFAULT_HASH_METHOD
        accounts.append(Account(settings.operator_auth_username, "admin",
                                generate_password_hash(settings.operator_auth_password, method=method)))
    accounts.extend(from_file)
    return AccountBook(accounts)
