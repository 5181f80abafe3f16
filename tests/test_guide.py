"""The maintainer's guide (docs/declarative.md) keeps up with the code: every option
of every section and every problem id that exists in code is documented there."""
from __future__ import annotations

import importlib
import pkgutil
import re
import tomllib
from pathlib import Path

import pytest

from backoffice.core.declarations import SECTIONS
from console.app import console_rules

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "declarative.md"
PACKAGES = ("backoffice", "models", "views", "audit_hooks")


@pytest.fixture(scope="module", autouse=True)
def every_subsystem_imported():
    """Options and problem ids are declared at import by their owners: import them all."""
    for name in PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, name + "."):
            importlib.import_module(info.name)


def section_text(section: str) -> str:
    """The guide's part about one section: from its '## ... `[section...`' heading to the next '## '."""
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(rf"^## [^\n]*`\[{section}[\].<]", text, flags=re.M)
    assert match, f"docs/declarative.md has no '## ... `[{section}...]`' heading"
    end = text.find("\n## ", match.end())
    return text[match.start(): end if end != -1 else None]


@pytest.mark.parametrize("section", SECTIONS)
def test_every_option_is_in_the_guide_with_an_example(section):
    part = section_text(section)
    missing = [name for name in console_rules().options[section] if f"`{name}`" not in part]
    assert not missing, f"options of [{section}] missing from docs/declarative.md: {missing}"
    examples = "\n".join(re.findall(r"```toml\n(.*?)```", part, flags=re.S))
    no_example = [name for name in console_rules().options[section] if not re.search(rf"^\s*(\S+\.)?{name} = |[{{,] {name} = ",
                                                                      examples, flags=re.M)]
    assert not no_example, f"options of [{section}] without a TOML example in the guide: {no_example}"


def test_the_views_option_table_lists_only_real_options():
    table = section_text("views").split("\n### ", 1)[0]  # the option table comes before the per-option parts
    rows = re.findall(r"^\| `(\w+)` \| ", table, flags=re.M)
    assert rows and set(rows) == set(console_rules().options["views"])


def test_every_problem_id_is_in_the_guide():
    text = GUIDE.read_text(encoding="utf-8")
    missing = [id for id in console_rules().problem_ids if f"`{id}`" not in text]
    assert not missing, f"problem ids missing from docs/declarative.md: {missing}"


def test_every_toml_example_in_the_guide_parses():
    blocks = re.findall(r"```toml\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 10
    for block in blocks:
        tomllib.loads(block)
