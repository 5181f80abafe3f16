"""Real gunicorn processes for the serving tests: started with the container's
configuration (``console/gunicorn_conf.py``), waited for, stopped by their own pid."""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from testing_support import free_port

__all__ = ["Gunicorn", "Reply", "free_port", "ROOT"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Reply:
    """What one HTTP exchange gave: status, headers (lower-case names), body, seconds."""

    status: int
    headers: dict
    body: bytes
    seconds: float


@dataclass
class Gunicorn:
    """One gunicorn master and its workers, serving ``wsgi:app`` from ``cwd``."""

    process: subprocess.Popen
    port: int
    log_path: Path
    extra: dict = field(default_factory=dict)

    @classmethod
    def start(cls, env: dict, cwd: Path, workers: int = 2, args: tuple = (), wait: bool = True) -> "Gunicorn":
        port = free_port()
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("DATABASE_URL", "OPERATOR_", "PORT", "SECRET_KEY", "REDIS_URL", "RATELIMIT"))}
        base["PYTHONPATH"] = str(ROOT) + os.pathsep + base.get("PYTHONPATH", "")
        base.update(env)
        log_path = Path(cwd) / f"gunicorn-{port}.log"
        argv = [sys.executable, "-m", "gunicorn", "-c", "python:console.gunicorn_conf", "-w", str(workers),
                "--no-control-socket", "-b", f"127.0.0.1:{port}", *args, "wsgi:app"]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(argv, cwd=cwd, env=base, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        server = cls(process, port, log_path)
        if wait:
            server.wait_ready()
        return server

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if self.get("/healthz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise AssertionError("gunicorn exited:\n" + self.log()[-3000:])
            if time.monotonic() > deadline:
                raise AssertionError("gunicorn did not answer:\n" + self.log()[-3000:])
            time.sleep(0.2)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 30) -> Reply:
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data,
                         time.monotonic() - started)
        finally:
            conn.close()

    def get(self, path: str, headers: dict | None = None, timeout: float = 30) -> Reply:
        return self.request("GET", path, headers=headers, timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode
