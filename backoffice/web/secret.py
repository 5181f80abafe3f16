"""The key that signs CSRF tokens and the session: ``SECRET_KEY``, or one kept on disk.

A key generated per process breaks forms as soon as there are two processes (a token
signed by one gunicorn worker is refused by the other, about half of all posts). So
without ``SECRET_KEY`` the console generates one key once, writes it to an
owner-only file in the instance folder, and every process started from that folder
(every worker, every restart) reads the same key. When the folder cannot be written
(or the file is readable by others), start-up stops and says which, rather than
serving forms that fail at random.

Concurrent first starts are safe: the key is written to a private temporary file and
then hard-linked to its final name, which fails if another process got there first;
the loser reads the winner's key.
"""
from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from backoffice.core.settings import Settings, SettingsError

__all__ = ["KEY_FILE", "resolve_secret_key"]

log = logging.getLogger(__name__)

#: File name of the generated key, in the instance folder.
KEY_FILE = "secret_key"


def resolve_secret_key(settings: Settings, instance_folder: str | Path) -> str:
    """``SECRET_KEY``, else the key stored in the instance folder (created on first use).

    Raises :class:`SettingsError` naming the folder or file and what is wrong with it.
    """
    if settings.secret_key:
        return settings.secret_key
    path = Path(instance_folder) / KEY_FILE
    key = _read(path)
    if key is not None:
        log.info("SECRET_KEY is not set: using the key kept in %s", path)
        return key
    key = _create(path)
    if key is None:  # another process created it between our read and our write
        key = _read(path)
        if key is None:
            raise SettingsError([f"SECRET_KEY is not set and {path} could not be read back after "
                                 "another process created it; set SECRET_KEY"])
        return key
    log.warning("SECRET_KEY is not set: generated one and stored it in %s (readable by this user only). "
                "Every worker and restart started from this folder uses it; set SECRET_KEY to share one "
                "key between hosts.", path)
    return key


def _read(path: Path) -> str | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise SettingsError([f"SECRET_KEY is not set and the instance folder {path.parent} is not a folder, "
                             "so no key can be kept for every worker; set SECRET_KEY or make it a "
                             "writable folder"]) from None
    except OSError as exc:
        raise SettingsError([f"SECRET_KEY is not set and {path} cannot be examined: "
                             f"{exc.strerror or exc}; set SECRET_KEY or fix the file"]) from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError([f"SECRET_KEY is not set and {path} is readable by other users "
                             f"(mode {stat.filemode(info.st_mode)}); run `chmod 600 {path}` or set SECRET_KEY"])
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise SettingsError([f"SECRET_KEY is not set and {path} cannot be read: {reason}; "
                             "set SECRET_KEY or fix the file"]) from None
    if len(key) < 32:
        raise SettingsError([f"SECRET_KEY is not set and {path} holds {len(key)} characters, fewer than "
                             "the 32 a key needs; delete the file to generate a new one, or set SECRET_KEY"])
    return key


def _create(path: Path) -> str | None:
    """Write a new key to ``path``; None when another process wrote one first."""
    key = secrets.token_urlsafe(48)
    temporary = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return None
    except OSError as exc:
        raise SettingsError([f"SECRET_KEY is not set and the instance folder {path.parent} cannot be written "
                             f"({exc.strerror or exc}), so no key can be kept for every worker; "
                             "set SECRET_KEY or make the folder writable"]) from None
    finally:
        try:
            temporary.unlink()
        except OSError:
            pass
    return key
