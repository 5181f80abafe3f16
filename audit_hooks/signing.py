"""The audit chain's signing keys: the current one, the retired ones, and the generated default.

Each audit row and each checkpoint carries ``key_id`` and an HMAC-SHA256 under that
key. The key comes from ``AUDIT_SIGNING_KEY`` (``kid:key`` or a bare key), kept
outside the database, separate from ``SECRET_KEY`` so either can be rotated alone.
Rotation: give the new key as ``AUDIT_SIGNING_KEY`` and the old one in
``AUDIT_SIGNING_KEYS_OLD``; new rows are signed with the new key, old rows still
verify with theirs. When ``AUDIT_SIGNING_KEY`` is unset a key is generated once and
kept owner-only in the instance folder (a warning says so): it protects against
someone who holds the database but not the console's file system.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from backoffice.core.engine import instance_path
from backoffice.core.settings import Settings, SettingsError, signing_key

__all__ = ["Keyring", "keyring_for", "GENERATED_KEY_FILE"]

log = logging.getLogger(__name__)

#: File name, in the instance folder, of the key generated when AUDIT_SIGNING_KEY is unset.
GENERATED_KEY_FILE = "audit-signing.key"


@dataclass(frozen=True)
class Keyring:
    """The key that signs new rows and every key a stored row may name."""

    current_id: str
    keys: dict[str, bytes] = field(repr=False)
    generated_file: Path | None = None

    def sign(self, data: bytes, key_id: str | None = None) -> str:
        """HMAC-SHA256 (hex) of ``data`` under ``key_id`` (default: the current key)."""
        return hmac.new(self.keys[key_id or self.current_id], data, hashlib.sha256).hexdigest()

    def check(self, data: bytes, key_id: str | None, mac: str | None) -> str | None:
        """None when ``mac`` is ``data``'s MAC under ``key_id``; else why not."""
        if not key_id or not mac:
            return "it carries no MAC"
        if key_id not in self.keys:
            return f"it is signed with key id {key_id!r}, which is not configured (AUDIT_SIGNING_KEYS_OLD?)"
        if not hmac.compare_digest(self.sign(data, key_id), mac):
            return f"its MAC does not match under key {key_id!r} (forged, or recomputed without the key)"
        return None


def _generated(folder: Path) -> tuple[tuple[str, str], Path]:
    path = folder / GENERATED_KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: two workers starting together keep one key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
    text = path.read_text().strip()
    try:
        return signing_key(text), path
    except ValueError as exc:
        raise SettingsError([f"{path} does not hold a usable audit signing key: expected {exc}"]) from None


def keyring_for(settings: Settings, folder: Path | None = None) -> Keyring:
    """The keyring of ``settings``; generates (once) and reads the instance key when unset."""
    generated = None
    current = settings.audit_signing_key
    if current is None:
        current, generated = _generated(folder or instance_path())
    keys = {kid: key.encode() for kid, key in settings.audit_signing_keys_old}
    if current[0] in keys and keys[current[0]] != current[1].encode():
        raise SettingsError([f"AUDIT_SIGNING_KEYS_OLD reuses the key id {current[0]!r} of AUDIT_SIGNING_KEY "
                             "for another key"])
    keys[current[0]] = current[1].encode()
    return Keyring(current_id=current[0], keys=keys, generated_file=generated)
