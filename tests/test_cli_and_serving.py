"""The command line, gunicorn loading wsgi:app, and the container definition."""
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from console.cli import main
from testing_support import free_port, stop_process, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent


def _env(**values):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "OPERATOR_", "PORT"))}
    env.update(values)
    return env


def test_seed_demo_reports_exact_counts(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    result = CliRunner().invoke(main, ["seed-demo", "--movies", "300", "--seed", "3", "--report"],
                                env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output[result.output.index("{"):])
    assert counts["movies"] == 300
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM movies WHERE overview IS NULL").scalar() == \
            counts["missing_overview"]
    assert "backoffice_audit_events" in inspect(engine).get_table_names()


def test_init_db_is_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path / 'own.sqlite'}"
    first = CliRunner().invoke(main, ["init-db"], env={"DATABASE_URL": url})
    assert first.exit_code == 0 and "backoffice_audit_events" in first.output
    second = CliRunner().invoke(main, ["init-db"], env={"DATABASE_URL": url})
    assert second.exit_code == 0 and "nothing to do" in second.output


def test_bad_environment_is_a_clean_error_not_a_traceback():
    result = CliRunner().invoke(main, ["init-db"], env={"DATABASE_URL": "nonsense", "PORT": "x"})
    assert result.exit_code != 0
    assert "DATABASE_URL='nonsense' is not valid" in result.output
    assert "PORT='x' is not valid" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow  # a gunicorn process
def test_gunicorn_serves_wsgi_app_like_the_container(sqlite_demo_url, tmp_path):
    """The image's command: gunicorn loads wsgi:app, /healthz and /admin/ answer."""
    port = free_port()
    dockerfile = (ROOT / "Dockerfile").read_text()
    command = re.search(r'exec (gunicorn [^"]+)', dockerfile).group(1)
    assert "wsgi:app" in command and "--no-control-socket" in command
    argv = [sys.executable, "-m", *command.replace("${PORT}", str(port)).replace("0.0.0.0", "127.0.0.1").split()]
    proc = subprocess.Popen(argv, cwd=ROOT, env=_env(DATABASE_URL=sqlite_demo_url, SECRET_KEY="k", PORT=str(port)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert wait_until_serving(f"http://127.0.0.1:{port}/healthz", proc) == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert json.load(response) == {"status": "ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/", timeout=10) as response:
            assert response.status == 200 and b"movies" in response.read()
    finally:
        returncode = stop_process(proc)
    assert returncode == 0


def test_dockerfile_follows_the_contract():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11-slim" in dockerfile
    assert re.search(r"^USER backoffice$", dockerfile, re.M)
    assert "EXPOSE 3000" in dockerfile and "/healthz" in dockerfile
    # dependencies are installed before the source is copied (cached layer)
    assert dockerfile.index("pip install -r") < dockerfile.index("COPY backoffice")
    for path in ("backoffice", "models", "views", "audit_hooks", "wsgi.py"):
        assert (ROOT / path).exists(), path
