"""No test may write a file git tracks (or leave one it would pick up).

``snapshot()`` lists the files ``git status`` shows (changed tracked files and
untracked files not ignored) with their modification times; the session compares
the snapshot taken at its start with the one at its end (see tests/conftest.py).
Outside a git checkout there is nothing to compare and nothing is checked.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["snapshot", "written_since"]

REPO = Path(__file__).resolve().parent.parent


def snapshot(root: Path = REPO) -> dict[str, int] | None:
    """``{path: mtime_ns}`` of every file git reports as changed or new, or None outside git."""
    try:
        done = subprocess.run(["git", "-C", str(root), "status", "--porcelain=v1", "-z", "--untracked-files=all"],
                              capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    entries = done.stdout.decode(errors="surrogateescape").split("\0")
    files: dict[str, int] = {}
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        if "R" in status or "C" in status:
            index += 1  # the rename's source path follows
        try:
            files[path] = os.stat(root / path).st_mtime_ns
        except OSError:
            files[path] = -1  # deleted
    return files


def written_since(before: dict[str, int] | None, root: Path = REPO) -> list[str]:
    """Paths created, changed or deleted since ``before`` was taken (empty outside git)."""
    after = snapshot(root)
    if before is None or after is None:
        return []
    return sorted(path for path, mtime in after.items() if before.get(path) != mtime)
