"""Without SECRET_KEY: one key kept in the instance folder, shared by every worker, or a
refusal to start that says why. Forms never fail because of the number of processes."""
from __future__ import annotations

import os
import re
import shutil
import stat
import urllib.parse

import pytest

from console.app import create_app
from backoffice.core.settings import SettingsError
from backoffice.web.secret import KEY_FILE

from tests.gunicorn_server import Gunicorn


def _cookie(reply) -> str:
    return reply.headers["set-cookie"].split(";", 1)[0]


@pytest.mark.slow
def test_form_posts_through_two_workers_without_secret_key_are_all_accepted(sqlite_demo_url, tmp_path):
    server = Gunicorn.start({"DATABASE_URL": sqlite_demo_url, "LOG_LEVEL": "INFO"}, cwd=tmp_path, workers=2)
    try:
        page = server.get("/admin/catalog-health/")
        assert page.status == 200
        cookie = _cookie(page)
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.body).group(1).decode()
        statuses = []
        pids = set()
        for _ in range(60):
            reply = server.request("POST", "/admin/catalog-health/refresh",
                                   body=urllib.parse.urlencode({"csrf_token": token}).encode(),
                                   headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
            statuses.append(reply.status)
        pids.update(server.worker_pids())
    finally:
        assert server.stop() == 0
    assert len(pids) == 2
    assert statuses == [302] * 60, statuses
    key_file = tmp_path / "instance" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    log = server.log()
    assert log.count("generated one and stored it in") == 1  # warned about once, by the master


def test_the_key_is_kept_and_reused_by_the_next_start(sqlite_demo_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = create_app({"DATABASE_URL": sqlite_demo_url, "LOG_LEVEL": "ERROR"})
    second = create_app({"DATABASE_URL": sqlite_demo_url, "LOG_LEVEL": "ERROR"})
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    assert (tmp_path / "instance" / KEY_FILE).read_text().strip() == first.secret_key


def test_an_unwritable_instance_folder_stops_start_up_and_says_which(sqlite_demo_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "instance").write_text("a file where the instance folder should be")
    with pytest.raises(SettingsError) as caught:
        create_app({"DATABASE_URL": sqlite_demo_url, "LOG_LEVEL": "ERROR"})
    message = str(caught.value)
    assert "SECRET_KEY is not set" in message and "is not a folder" in message and "set SECRET_KEY" in message
    assert f"instance folder {tmp_path / 'instance'} " in message


def test_a_key_file_others_can_read_stops_start_up(sqlite_demo_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    create_app({"DATABASE_URL": sqlite_demo_url, "LOG_LEVEL": "ERROR"})
    os.chmod(tmp_path / "instance" / KEY_FILE, 0o644)
    with pytest.raises(SettingsError, match="readable by other users"):
        create_app({"DATABASE_URL": sqlite_demo_url, "LOG_LEVEL": "ERROR"})


def test_secret_key_from_the_environment_writes_nothing(sqlite_demo_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": sqlite_demo_url, "SECRET_KEY": "from-the-environment", "LOG_LEVEL": "ERROR"})
    assert app.secret_key == "from-the-environment"
    assert not (tmp_path / "instance" / KEY_FILE).exists()
    shutil.rmtree(tmp_path / "instance", ignore_errors=True)
