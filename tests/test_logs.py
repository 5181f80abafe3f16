"""The logs as a process writes them: one JSON line per request, and no secrets in any line.

The console runs in a child process (its real stderr handler, not pytest's capture)
through logins that fail and succeed, a settings error, a users-file error and a
database that is down; gunicorn then fails to boot on a bad users file. Every line
is read back and searched for the passwords, hashes, SECRET_KEY and database password.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Env-Pa55word-6f1c"
WRONG = "Wrong-Pa55word-93ab"
USER_PASSWORD = "File-Pa55word-d41e"
PLAINTEXT_IN_FILE = "Plain-Pa55word-77aa"
SECRET_KEY = "Secret-Key-0b9e7d51c2"
DB_PASSWORD = "Db-Pa55word-5e5e"

SCRIPT = r'''
import base64, json, logging, os, sys
from console.app import create_app

def auth(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

env = json.loads(sys.argv[1])
app = create_app(env["good"])
client = app.test_client()
seen = []
for method, path, headers in [
    ("GET", "/healthz", {}),
    ("GET", "/admin/", auth("admin", env["wrong"])),
    ("GET", "/admin/movies/", auth("vera", env["wrong"])),
    ("GET", "/admin/", auth("admin", env["password"])),
    ("GET", "/admin/movies/?search=x", auth("vera", env["user_password"])),
    ("POST", "/admin/movies/new/", auth("vera", env["user_password"])),
    ("GET", "/admin/nothing-here/", auth("admin", env["password"])),
]:
    response = client.open(path, method=method, headers=headers)
    seen.append({"method": method, "path": path, "status": response.status_code,
                 "request_id": response.headers.get("X-Request-Id")})
for label, bad in (("settings", env["bad_settings"]), ("users file", env["bad_users"])):
    try:
        create_app(bad)
    except Exception:
        logging.getLogger("backoffice.startup").exception("start-up failed: %s", label)
down = create_app(env["db_down"])
seen_down = down.test_client().get("/admin/", headers=auth("admin", env["password"])).status_code
print(json.dumps({"requests": seen, "down": seen_down}))
'''


def _lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _assert_no_secrets(text: str, secrets: list[str]):
    for secret in secrets:
        assert secret not in text, f"a secret leaked into the logs: {secret[:12]}..."


def _env(**values):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "OPERATOR_", "SECRET", "BACKOFFICE"))}
    env.update(PYTHONPATH=str(ROOT), **values)
    return env


def test_one_json_line_per_request_and_no_secret_in_any_line(sqlite_demo_url, tmp_path):
    users_hash = generate_password_hash(USER_PASSWORD)
    users = tmp_path / "users.txt"
    users.write_text(f"vera:viewer:{users_hash}\n")
    bad_users = tmp_path / "bad-users.txt"
    bad_users.write_text(f"otto:superuser:{users_hash}\nmira:operator:{PLAINTEXT_IN_FILE}\n")
    good = {"DATABASE_URL": sqlite_demo_url, "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "INFO",
            "OPERATOR_AUTH_USERNAME": "admin", "OPERATOR_AUTH_PASSWORD": PASSWORD,
            "OPERATOR_AUTH_USERS_FILE": str(users), "OPERATOR_AUTH_RATE_LIMIT_MAX": "1000"}
    env = {
        "good": good, "wrong": WRONG, "password": PASSWORD, "user_password": USER_PASSWORD,
        "bad_settings": {**good, "OPERATOR_AUTH_RATE_LIMIT_MAX": "lots", "PORT": "x",
                         "OPERATOR_AUTH_USERNAME": "admin", "OPERATOR_AUTH_PASSWORD": PASSWORD, "SECRET_KEY": ""},
        "bad_users": {**good, "OPERATOR_AUTH_USERS_FILE": str(bad_users)},
        "db_down": {**good, "DATABASE_URL": f"postgresql://ops:{DB_PASSWORD}@127.0.0.1:1/catalog"},
    }
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(env)], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    lines = _lines(proc.stderr)

    # one structured line per request, with everything an operator searches by
    requests = [line for line in lines if line["logger"] == "backoffice.request"]
    by_id = {}
    for line in requests:
        by_id.setdefault(line["request_id"], []).append(line)
    for sent in report["requests"]:
        [line] = by_id[sent["request_id"]]
        assert (line["method"], line["path"], line["status"]) == (sent["method"], sent["path"].split("?")[0], sent["status"])
        assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
        assert line["level"] == "INFO" and line["time"]
    statuses = {s["path"] + s["method"]: s for s in report["requests"]}
    assert [s["status"] for s in report["requests"][:4]] == [200, 401, 401, 200]
    operators = {sent["request_id"]: by_id[sent["request_id"]][0]["operator"] for sent in report["requests"]}
    ids = [s["request_id"] for s in report["requests"]]
    assert operators[ids[0]] is None and operators[ids[1]] is None  # no one logged in
    assert operators[ids[3]] == "admin" and operators[ids[4]] == "vera"
    assert statuses["/admin/movies/new/POST"]["status"] in (400, 404)  # viewer: no create; nothing written
    assert report["down"] == 503

    # the error paths were really taken (and logged), so the secret check below means something
    text = proc.stderr
    assert "OPERATOR_AUTH_RATE_LIMIT_MAX='lots' is not valid" in text
    assert "role 'superuser' is not one of" in text and "is not a werkzeug hash" in text
    assert "database unavailable" in text
    _assert_no_secrets(text, [PASSWORD, WRONG, USER_PASSWORD, users_hash, users_hash.split("$")[-1],
                              PLAINTEXT_IN_FILE, SECRET_KEY, DB_PASSWORD])


@pytest.mark.slow  # a gunicorn process
def test_gunicorn_failing_to_boot_on_a_bad_users_file_logs_no_secret(sqlite_demo_url, tmp_path):
    users_hash = generate_password_hash(USER_PASSWORD)
    users = tmp_path / "users.txt"
    users.write_text(f"otto:operator:{users_hash}\nmira:nobody:{PLAINTEXT_IN_FILE}\n")
    argv = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1", "--no-control-socket",
            "--chdir", str(ROOT), "wsgi:app"]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=_env(
        DATABASE_URL=sqlite_demo_url, SECRET_KEY=SECRET_KEY, OPERATOR_AUTH_USERNAME="admin",
        OPERATOR_AUTH_PASSWORD=PASSWORD, OPERATOR_AUTH_USERS_FILE=str(users)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("gunicorn kept running with a bad users file: " + err[-2000:])
    assert proc.returncode != 0
    assert "role 'nobody' is not one of" in err  # the real reason is in the log ...
    _assert_no_secrets(out + err, [PASSWORD, USER_PASSWORD, users_hash, PLAINTEXT_IN_FILE, SECRET_KEY])
