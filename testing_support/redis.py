"""A throwaway redis-server on loopback: no persistence, its own directory, stopped by pid."""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from testing_support.ports import free_port

__all__ = ["RedisServer", "find_redis"]


def find_redis() -> str | None:
    """Path of the redis-server binary, or None."""
    return shutil.which("redis-server")


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
    def start(cls, binary: str | None = None) -> "RedisServer":
        """Start one on a free port and wait until it answers PING."""
        binary = binary or find_redis()
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        root = Path(tempfile.mkdtemp(prefix="backoffice-redis-"))
        port = free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(root), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        server = cls(process, port, root)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if server.command("PING").startswith(b"+PONG"):
                    return server
            except OSError:
                time.sleep(0.05)
        server.stop()
        raise RuntimeError(f"redis-server did not answer on port {port}")

    def command(self, name: str) -> bytes:
        """Send one argument-less command (PING, FLUSHALL, DBSIZE) and return the raw reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(name.encode() + b"\r\n")
            return sock.recv(64)

    def flush(self) -> None:
        self.command("FLUSHALL")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
