"""A fleet for tests: console instances (gunicorn servers) behind a real nginx.

Each :class:`Instance` is one ``gunicorn -c python:console.gunicorn_conf`` server
with several workers on its own port; :class:`Proxy` is nginx (the Debian package)
in front of them, configured like a production proxy: ``X-Forwarded-For`` appended,
failed reads retried on the other instance, writes never resent
(``proxy_next_upstream`` without ``non_idempotent``), and the answering instance
named in ``X-Upstream`` so a test can see where each request went.
:class:`Browser` keeps cookies and basic-auth credentials like a browser would.
"""
from __future__ import annotations

import base64
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from testing_support.serving import stop_process, wait_until_serving
from tests.services import require

__all__ = ["Instance", "Proxy", "Browser", "Reply", "nginx_or_skip", "Tally"]

ROOT = Path(__file__).resolve().parent.parent


def nginx_or_skip() -> str:
    """Path of nginx, or skip (fail when BACKOFFICE_REQUIRE_NGINX=1, as in CI)."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    return require(binary, "nginx", "BACKOFFICE_REQUIRE_NGINX", "apt-get install nginx")


@dataclass
class Instance:
    """One console server: gunicorn with the console's settings file and ``workers`` workers."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    #: Working directory (its instance/ folder): never the checkout, which tests must not write.
    cwd: Path
    workers: int = 3
    #: Threads per worker: the console refuses a request as "busy" (503) when every slot of
    #: the worker that accepted it is taken (backoffice/web/capacity.py); with 16 threads a
    #: worker takes every request the tests send at once, however gunicorn spreads them.
    threads: int = 16
    process: subprocess.Popen | None = None

    def start(self) -> "Instance":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:console.gunicorn_conf", "-w", str(self.workers),
             "--threads", str(self.threads), "--no-control-socket", "-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "30", "wsgi:app"],
            cwd=self.cwd, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_serving(f"http://127.0.0.1:{self.port}/healthz", self.process, log=self.log)
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Signal the server (SIGTERM: finish what is in flight, then exit) and wait for it."""
        return None if self.process is None else stop_process(self.process, limit=60, sig=sig)


_NGINX_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream consoles {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://consoles;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # A failed read is retried on the other instance. A request with another method
            # is passed on only if it never reached an instance (nginx leaves non_idempotent
            # out unless told): a POST that an instance may have executed is never resent.
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


@dataclass
class Proxy:
    """nginx in the foreground with a configuration of its own, on loopback."""

    binary: str
    port: int
    upstreams: list[str]
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="backoffice-nginx-")))
    process: subprocess.Popen | None = None

    def start(self) -> "Proxy":
        os.chmod(self.root, 0o777)  # nginx's workers run as an unprivileged user and buffer bodies here
        servers = "\n".join(f"        server {u} max_fails=3 fail_timeout=2s;" for u in self.upstreams)
        conf = self.root / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(root=self.root, port=self.port, servers=servers))
        log = self.root / "stderr.log"
        self.process = subprocess.Popen([self.binary, "-c", str(conf), "-p", str(self.root)],
                                        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_serving(f"http://127.0.0.1:{self.port}/healthz", self.process, log=log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, limit=10, sig=signal.SIGQUIT)  # nginx's graceful stop
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def upstream(self) -> str:
        """The instance that answered last (nginx lists every one it tried)."""
        return self.headers.get("x-upstream", "").split(",")[-1].strip()


class Tally:
    """Counts every request sent through the proxy: by method, status and instance."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_status: Counter = Counter()
        self.by_upstream: Counter = Counter()
        self.requests = 0

    def add(self, method: str, reply: Reply) -> None:
        with self.lock:
            self.requests += 1
            self.by_status[(method, reply.status)] += 1
            self.by_upstream[reply.upstream] += 1

    def server_errors(self, method: str | None = None) -> int:
        return sum(n for (m, status), n in self.by_status.items() if status >= 500 and method in (None, m))


class Browser:
    """One operator's browser: its own cookies, basic-auth credentials, a source address."""

    def __init__(self, port: int, credentials: tuple[str, str] | None = None, source: str = "127.0.0.1",
                 tally: Tally | None = None):
        self.port = port
        self.source = source
        self.cookies: dict[str, str] = {}
        self.tally = tally
        self.auth = None
        if credentials is not None:
            self.auth = "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()

    def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120, source_address=(self.source, 0))
        sent = {"Connection": "close", **(headers or {})}
        if self.auth and "Authorization" not in sent:
            sent["Authorization"] = self.auth
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                          response.read().decode("utf-8", "replace"))
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
        finally:
            conn.close()
        if self.tally is not None:
            self.tally.add(method, reply)
        return reply

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form: dict, **kwargs) -> Reply:
        return self.request("POST", path, form=form, **kwargs)
