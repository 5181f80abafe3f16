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
           "CREDENTIAL_CACHE_SECONDS", "NO_PASSWORD"]

#: How long a successful password check is remembered (in memory, per process).
CREDENTIAL_CACHE_SECONDS = 60
_CACHE_MAX_ENTRIES = 4096
_HASH_METHODS = ("scrypt", "pbkdf2")
#: The password field of an account that has no password (single sign-on only).
NO_PASSWORD = "!"


class UsersFileError(SettingsError):
    """The users file is missing, unreadable or has bad lines (all of them listed)."""


@dataclass(frozen=True)
class Account:
    """One operator account. ``secret`` is a werkzeug hash, or the plain environment password."""

    username: str
    role: str
    secret: str = ""
    hashed: bool = True

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
        accounts.append(Account(username, role, hashed, hashed=True))
    if not problems and not accounts:
        problems.append(f"{path}: the users file holds no accounts")
    if problems:
        raise UsersFileError(problems)
    return accounts


def _digest(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


class AccountBook:
    """Checks credentials against the configured accounts, caching successes briefly.

    A werkzeug hash costs a deliberate key derivation (tens of milliseconds); basic
    auth sends the password with every request, so a success is remembered for
    :data:`CREDENTIAL_CACHE_SECONDS` under an HMAC of username and password with a
    key that lives only in this process: the cache never holds a password, and a
    wrong password never matches a cached entry.
    """

    def __init__(self, accounts: list[Account], cache_seconds: int = CREDENTIAL_CACHE_SECONDS):
        self._accounts = {a.username: a for a in accounts}
        self._key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[float, Operator]] = {}
        self._lock = threading.Lock()
        self.cache_seconds = cache_seconds
        self._dummy_hash: str | None = None

    def __len__(self) -> int:
        return len(self._accounts)

    def check(self, username: str, password: str) -> Operator | None:
        """The operator these credentials belong to, or None."""
        if not username or not password:
            return None
        # Length-prefixed so ("ab", "c") and ("a", "bc") never share a key.
        key = _digest(self._key, f"{len(username)}:{username}{password}")
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        operator = self._verify(username, password)
        if operator is not None and self.cache_seconds > 0:
            self._remember(key, now + self.cache_seconds, operator)
        return operator

    def lookup(self, username: str) -> Operator | None:
        """The operator named ``username`` without any password check: only for an
        identity a trusted sign-in proxy vouched for (:mod:`backoffice.auth.proxy`)."""
        account = self._accounts.get(username)
        return Operator(account.username, account.role) if account is not None else None

    def _verify(self, username: str, password: str) -> Operator | None:
        account = self._accounts.get(username)
        if account is not None and account.hashed and account.secret == NO_PASSWORD:
            account = None  # signs in through the proxy only: a password never matches
        if account is None:
            # Unknown usernames cost a key derivation too, so timing does not tell which names exist.
            if self._dummy_hash is None:
                self._dummy_hash = generate_password_hash(secrets.token_urlsafe(16))
            check_password_hash(self._dummy_hash, password)
            return None
        if account.hashed:
            try:
                ok = check_password_hash(account.secret, password)
            except (ValueError, TypeError):  # validated at start-up; belt and braces
                ok = False
        else:
            # Comparing fixed-length digests in constant time hides the password's length too.
            ok = hmac.compare_digest(_digest(self._key, password), _digest(self._key, account.secret))
        return Operator(account.username, account.role) if ok else None

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
    accounts: list[Account] = []
    if settings.operator_auth_username and settings.operator_auth_password:
        accounts.append(Account(settings.operator_auth_username, "admin",
                                settings.operator_auth_password, hashed=False))
    if settings.operator_auth_users_file:
        from_file = read_users_file(settings.operator_auth_users_file)
        clash = [a.username for a in from_file if a.username == settings.operator_auth_username]
        if clash:
            raise UsersFileError([f"{settings.operator_auth_users_file}: username {clash[0]!r} is also "
                                  "OPERATOR_AUTH_USERNAME; use one or the other"])
        accounts.extend(from_file)
    return AccountBook(accounts)
