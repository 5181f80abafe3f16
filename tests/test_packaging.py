"""The wheel and the image carry only the console; every install uses the same pinned versions."""
from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = {"backoffice", "console", "queues", "models", "views", "audit_hooks", "wsgi.py"}
NOT_SHIPPED = {"tests", "benchmarks", "testing_support"}


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _installed_closure(requirements: list[str], extras: set[str]) -> dict[str, str]:
    """Every distribution these requirements pull in here, with its installed version."""
    found: dict[str, str] = {}
    todo = [(Requirement(r), extras) for r in requirements]
    while todo:
        requirement, active = todo.pop()
        if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in active | {""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        dist = importlib.metadata.distribution(requirement.name)
        found[name] = dist.version
        todo += [(Requirement(r), set(requirement.extras)) for r in dist.requires or []]
    return found


def test_every_installed_dependency_is_pinned_at_its_installed_version():
    """A dependency added to pyproject.toml without `bash scripts/lock`, or an environment
    installed without `-c constraints.txt`, fails here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    closure = _installed_closure(project["dependencies"] + project["optional-dependencies"]["test"], {"test"})
    pins = _pins()
    unpinned = sorted(set(closure) - set(pins))
    assert not unpinned, f"not in constraints.txt (run bash scripts/lock): {unpinned}"
    drifted = {name: (version, pins[name]) for name, version in closure.items() if pins[name] != version}
    assert not drifted, f"installed version differs from constraints.txt (installed, pinned): {drifted}"
    assert "tablib" not in pins  # CSV export is Flask-Admin's own; no other export format is offered


def test_every_install_path_uses_the_constraints():
    for path in ("scripts/run", "scripts/test", "Dockerfile"):
        assert "-c constraints.txt" in (ROOT / path).read_text(), path
    assert "bash scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_the_image_copies_only_the_console():
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set()
    for line in re.findall(r"^COPY (.+)$", dockerfile, re.M):
        *sources, _target = line.split()
        copied |= {s.rstrip("/") for s in sources}
    assert copied == CONSOLE | {"README.md", "pyproject.toml", "constraints.txt"}
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert NOT_SHIPPED <= ignored


def test_the_package_list_leaves_tests_and_benchmarks_out():
    from setuptools import find_packages

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    tops = {name.split(".")[0] for name in find_packages(str(ROOT), include=found["include"],
                                                          exclude=found["exclude"])}
    assert tops == CONSOLE - {"wsgi.py"}


@pytest.mark.slow
def test_the_built_wheel_holds_the_console_and_nothing_else(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "instance", "*.egg-info", "__pycache__", "node_modules"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check",
                           "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("backoffice-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == CONSOLE
    # the templates and static files the screens need are inside
    assert any(n.startswith("backoffice/templates/") for n in names)
    assert any(n.startswith("backoffice/static/") for n in names)
