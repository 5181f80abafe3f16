"""`backoffice schema`: the declarative file's JSON Schema, generated from the option
declarations the checks use, so editor completion cannot drift from `backoffice check`."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from backoffice.core.declarations import SECTIONS, Declarations
from console.app import console_rules
from console.cli import main

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "backoffice" / "demo" / "demo.toml", ROOT / "examples" / "pagila.toml"]


@pytest.fixture(scope="module")
def validator():
    schema = console_rules().json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_every_declared_option_is_in_the_schema_with_its_help():
    rules = console_rules()
    schema = rules.json_schema()
    for section in SECTIONS:
        node = schema["properties"][section]
        entry = node if section == "hooks" else node["additionalProperties"]
        assert set(entry["properties"]) == set(rules.options[section]), section
        assert all(p["description"] for p in entry["properties"].values())
        assert entry["additionalProperties"] is False


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_shipped_files_validate(validator, path):
    errors = list(validator.iter_errors(tomllib.loads(path.read_text(encoding="utf-8"))))
    assert errors == []


# (TOML text, problem id the checks give): the schema must refuse exactly these.
SHAPE_CASES = [
    ('[views.movies]\nlables = {}\n', "backoffice.E004"),
    ('[views.movies]\npage_size = "50"\n', "backoffice.E005"),
    ('[views.movies]\nhidden = 1\n', "backoffice.E005"),
    ('[health.x]\nkind = "missing"\nfields = "overview"\n', "backoffice.E005"),
    ('[hooks]\naudit = "pkg.mod:f"\n', "backoffice.E005"),
    ('[queues.q]\ntable = 3\n', "backoffice.E005"),
    ('[view.movies]\n', "backoffice.E002"),
]


@pytest.mark.parametrize(("toml", "id"), SHAPE_CASES)
def test_the_schema_refuses_what_the_shape_checks_refuse(validator, toml, id):
    data = tomllib.loads(toml)
    declarations = Declarations(path=Path("x.toml"), **{k: v for k, v in data.items() if k in SECTIONS})
    if id == "backoffice.E002":
        assert "view" not in SECTIONS  # parsing reports it; the schema has no such section either
    else:
        found = {p.id for p in console_rules()._option_shapes(declarations)}
        assert id in found
    assert list(validator.iter_errors(data)), toml


def test_the_schema_command_prints_and_writes(tmp_path):
    printed = CliRunner().invoke(main, ["schema"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output) == console_rules().json_schema()
    target = tmp_path / "backoffice.schema.json"
    written = CliRunner().invoke(main, ["schema", "-o", str(target)])
    assert written.exit_code == 0, written.output
    assert json.loads(target.read_text(encoding="utf-8")) == console_rules().json_schema()


def test_scaffold_points_editors_at_the_schema(sqlite_demo_url, tmp_path):
    out = tmp_path / "backoffice.toml"
    result = CliRunner().invoke(main, ["scaffold", "-o", str(out)], env={"DATABASE_URL": sqlite_demo_url})
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").splitlines()[0] == "#:schema ./backoffice.schema.json"
    schema = json.loads((tmp_path / "backoffice.schema.json").read_text(encoding="utf-8"))
    assert schema == console_rules().json_schema()
    # the scaffold itself is valid against it, and still checks clean
    Draft202012Validator(schema).validate(tomllib.loads(out.read_text(encoding="utf-8")))
