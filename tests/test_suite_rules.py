"""The suite's own rules: markers follow fixtures, a hung test times out, no assertion reads
a clock, no test writes a tracked file, helpers exist once."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import tracked_files

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"


_DUMP_MARKERS = """
def pytest_collection_finish(session):
    for item in session.items:
        print("MARKED", item.nodeid, ",".join(sorted({m.name for m in item.iter_markers()})))
"""


def _markers(tmp_path: Path, *files: str) -> dict[str, set[str]]:
    """Collect ``files`` in a separate pytest run; node id -> marker names."""
    (tmp_path / "dump_markers.py").write_text(_DUMP_MARKERS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_REQUIRE")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "-p", "dump_markers", *files], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    marked = {}
    for line in done.stdout.splitlines():
        if line.startswith("MARKED "):
            _, nodeid, *names = line.split(" ")
            marked[nodeid] = set(",".join(names).split(",")) - {""}
    return marked


@pytest.mark.slow
def test_markers_follow_the_fixtures_a_test_uses(tmp_path):
    marked = _markers(tmp_path, "tests/test_console.py", "tests/test_auth_limits.py", "tests/test_faults.py",
                      "tests/test_loadtest.py")
    postgres = {t for t, names in marked.items() if "postgres" in names}
    # the PostgreSQL case of db_url, and a module's own cluster (test_faults' own_pg); nothing else
    assert postgres == {t for t in marked if "[postgresql]" in t or "test_faults.py" in t
                        or t.endswith("test_short_load_has_no_5xx_and_every_decision_audited_once")}
    assert any("[sqlite]" in t for t in marked) and not any("[sqlite]" in t for t in postgres)
    redis = {t for t, names in marked.items() if "redis" in names}
    # marked by its redis_url fixture alone (no marker written on it); nothing that runs without Redis
    assert "tests/test_auth_limits.py::test_two_instances_share_the_failure_count_through_redis" in redis
    assert redis and all("test_auth_limits.py" in t and "without_redis" not in t and "unreachable" not in t
                         for t in redis), redis
    assert {t for t, names in marked.items() if "slow" in names and "test_loadtest" in t} == \
        {"tests/test_loadtest.py::test_short_load_has_no_5xx_and_every_decision_audited_once"}


def test_a_hung_test_is_stopped_by_the_timeout(pytestconfig):
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert int(pytestconfig.getini("timeout")) >= 60


#: Names that, compared with a positive number, make an assertion about speed.
_CLOCKS = {"elapsed", "seconds", "duration", "monotonic", "perf_counter", "took", "wall"}


def _reads_a_clock(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        name = sub.attr if isinstance(sub, ast.Attribute) else sub.id if isinstance(sub, ast.Name) else None
        if name and name.lower() in _CLOCKS:
            return True
    return False


def _timed_assertions(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Assert):
            continue
        for compare in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
            sides = [compare.left, *compare.comparators]
            bound = any(isinstance(s, ast.Constant) and isinstance(s.value, (int, float)) and s.value > 0
                        for s in sides)
            ordering = any(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in compare.ops)
            if bound and ordering and any(_reads_a_clock(s) for s in sides):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_assertion_in_the_suite_bounds_elapsed_time():
    """Speed is shown by benchmarks (python -m benchmarks.X), never asserted on a shared machine."""
    sample = TESTS / "sample_timed.py"
    try:  # the rule finds what it is meant to find
        sample.write_text("def test():\n    elapsed = 1\n    assert elapsed < 20\n    assert report.seconds < 3\n")
        assert len(_timed_assertions(sample)) == 2
    finally:
        sample.unlink()
    offenders = [hit for path in sorted(TESTS.rglob("*.py")) for hit in _timed_assertions(path)]
    assert not offenders, offenders


def test_a_write_to_the_checkout_is_noticed(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "tracked.png").write_bytes(b"one")
    (tmp_path / "edited.txt").write_text("an edit in progress")
    git("add", ".gitignore", "tracked.png", "edited.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "start")
    (tmp_path / "edited.txt").write_text("an edit in progress, not yet committed")
    before = tracked_files.snapshot(tmp_path)
    assert before is not None and list(before) == ["edited.txt"]
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "shot.png").write_bytes(b"ignored")
    assert tracked_files.written_since(before, tmp_path) == []  # untouched edits and ignored output are fine
    (tmp_path / "tracked.png").write_bytes(b"two")
    (tmp_path / "left-behind.sqlite").write_bytes(b"")
    assert tracked_files.written_since(before, tmp_path) == ["left-behind.sqlite", "tracked.png"]
    assert tracked_files.snapshot(tmp_path.parent / "not-a-checkout-at-all") is None


def test_helpers_for_ports_and_services_exist_once():
    """A free port, PostgreSQL, Redis and waiting for a server are written in testing_support only."""
    patterns = {
        "a free port": re.compile(r"\.bind\(\(\"127\.0\.0\.1\", 0\)\)"),
        "starting PostgreSQL": re.compile(r"\"initdb\"|'initdb'"),
        "starting Redis": re.compile(r"\[binary, \"--port\"|redis-server\", \"--port\""),
    }
    places = {what: [] for what in patterns}
    for folder in ("tests", "benchmarks", "testing_support"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == Path(__file__).name:
                continue
            text = path.read_text()
            for what, pattern in patterns.items():
                if pattern.search(text):
                    places[what].append(str(path.relative_to(ROOT)))
    assert places == {"a free port": ["testing_support/ports.py"],
                      "starting PostgreSQL": ["testing_support/postgres.py"],
                      "starting Redis": ["testing_support/redis.py"]}
