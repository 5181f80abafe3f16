"""A database URL's password never reaches output or logs: not when the URL is malformed,
not when the database behind it is unreachable, not from the console nor from `backoffice check`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backoffice.core.settings import SettingsError, load_settings, redact_url

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "s3cretPW-9f2"

#: (URL, what the output must show instead of the password): a refused port, a port that is
#: not a number (SQLAlchemy cannot parse it), a scheme and a driver the console refuses.
URLS = [
    (f"postgresql://alice:{PASSWORD}@127.0.0.1:1/catalog", "alice:***@127.0.0.1:1/catalog"),
    (f"postgresql://alice:{PASSWORD}@127.0.0.1:notaport/catalog", "alice:***@127.0.0.1:notaport"),
    (f"mysql://alice:{PASSWORD}@db.example/catalog", "mysql://alice:***@db.example/catalog"),
    (f"postgresql+psycopg://alice:{PASSWORD}@db.example/catalog", "alice:***@db.example"),
]


@pytest.mark.parametrize("url, shown", [
    (f"postgresql://alice:{PASSWORD}@db/c", "postgresql://alice:***@db/c"),
    (f"postgresql://alice:{PASSWORD}@db:x/c", "postgresql://alice:***@db:x/c"),
    (f"postgresql://alice:p@ss/w{PASSWORD}@db:x/c", "postgresql://alice:***@db:x/c"),
    (f"redis://:{PASSWORD}@cache:6379/0", "redis://:***@cache:6379/0"),
    (f"postgresql://db/c?user=alice&password={PASSWORD}&sslmode=require",
     "postgresql://db/c?user=alice&password=***&sslmode=require"),
    ("sqlite:////var/lib/console/demo.sqlite", "sqlite:////var/lib/console/demo.sqlite"),
])
def test_redact_url_hides_the_password_of_any_url(url, shown):
    assert redact_url(url) == shown and PASSWORD not in redact_url(url)


@pytest.mark.parametrize("name", ["DATABASE_URL", "DATABASE_REPLICA_URL", "REDIS_URL", "RATELIMIT_STORAGE_URI"])
def test_a_bad_url_setting_is_named_without_its_password(name):
    with pytest.raises(SettingsError) as caught:
        load_settings({name: f"nonsense://alice:{PASSWORD}@host:port/x"})
    assert f"{name}='nonsense://alice:***@host:port/x' is not valid" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def _run(argv: list[str], url: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "OPERATOR_", "PORT"))}
    env.update(DATABASE_URL=url, SECRET_KEY="k" * 40, PYTHONPATH=str(ROOT))
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


@pytest.mark.parametrize("url, shown", URLS)
def test_check_and_console_start_never_print_the_password(tmp_path, url, shown):
    check = _run([sys.executable, "-m", "console.cli", "check"], url, tmp_path)
    start = _run([sys.executable, "-c", "from console.app import create_app; create_app()"], url, tmp_path)
    for output in (check, start):
        assert PASSWORD not in output, output
    # The operator still learns which URL was meant (and `check` says so without a traceback).
    assert shown in check and "Traceback" not in check, check
    if "1/catalog" not in url:  # a refused port: the console starts in standby instead
        assert shown in start, start
