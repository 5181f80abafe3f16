"""`backoffice serve --reload`: a real gunicorn serving the console rebuilds the screens when
the declarative file changes; a broken file keeps the previous screens serving with the
problems on every page and in the log, until it is fixed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from testing_support.ports import free_port
from tests.gunicorn_server import ROOT, Gunicorn

pytestmark = pytest.mark.slow


def _write(path: Path, text: str, tick: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a distinct stamp even within one clock tick


def _start(env: dict, cwd: Path) -> Gunicorn:
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "OPERATOR_", "PORT", "SECRET_KEY"))}
    base.update(env, PYTHONPATH=str(ROOT))
    log_path = cwd / "serve.log"
    argv = [sys.executable, "-c", "from console.cli import main; main()", "serve", "--reload", "--port", str(port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, cwd=cwd, env=base, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Gunicorn(process, port, log_path)
    server.wait_ready()
    return server


def test_serve_reload_rebuilds_and_keeps_the_last_good_screens_while_the_file_is_broken(sqlite_demo_url, tmp_path):
    config = tmp_path / "backoffice.toml"
    _write(config, '[views.movies]\nlabel = "Films first"\n', 1)
    server = _start({"DATABASE_URL": sqlite_demo_url, "SECRET_KEY": "reload-test", "BACKOFFICE_CONFIG": str(config)},
                    tmp_path)
    try:
        first = server.get("/admin/movies/")
        assert first.status == 200 and b"Films first" in first.body
        _write(config, '[views.movies]\nlabel = "Films, second version"\n', 2)
        second = server.get("/admin/movies/")
        assert second.status == 200 and b"Films, second version" in second.body and b"Films first" not in second.body
        _write(config, '[views.movies]\nlabel = "Films, broken"\npage_size = 0\n', 3)
        for path in ("/admin/movies/", "/admin/people/", "/admin/"):
            broken = server.get(path)
            assert broken.status == 200, path
            assert b"declarations-reload-problems" in broken.body and b"backoffice.E016" in broken.body, path
        assert b"Films, second version" in server.get("/admin/movies/").body  # the last good screens serve
        assert "backoffice.E016" in server.log() and "previous screens keep serving" in server.log()
        _write(config, '[views.movies]\nlabel = "Films fixed"\n', 4)
        fixed = server.get("/admin/movies/")
        assert b"Films fixed" in fixed.body and b"declarations-reload-problems" not in fixed.body
    finally:
        server.stop()
