"""A throwaway redis-server on loopback for tests (no persistence, stopped by pid).

Without the binary, tests that need it skip with a clear reason, unless
``BACKOFFICE_REQUIRE_REDIS=1`` (CI) turns the skip into a failure.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["RedisServer", "redis_or_skip", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisServer:
    """One redis-server child process; ``url`` is its ``redis://`` address."""

    process: subprocess.Popen
    port: int
    root: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, binary: str) -> "RedisServer":
        root = Path(tempfile.mkdtemp(prefix="backoffice-redis-"))
        port = free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(root), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        server = cls(process, port, root)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return server
            except OSError:
                time.sleep(0.05)
        server.stop()
        raise RuntimeError(f"redis-server did not answer on port {port}")

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def redis_or_skip() -> str:
    """Path of redis-server, or skip (fail when BACKOFFICE_REQUIRE_REDIS=1)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("BACKOFFICE_REQUIRE_REDIS") == "1":
            pytest.fail("BACKOFFICE_REQUIRE_REDIS=1 but no redis-server binary was found on PATH")
        pytest.skip("redis-server is not installed on this machine (apt-get install redis-server)")
    return binary
