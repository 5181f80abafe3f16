"""`backoffice scaffold`: a starter file from the reflected schema that checks clean."""
from __future__ import annotations

import re
import tomllib

from click.testing import CliRunner
from sqlalchemy import create_engine

from console.cli import main
from backoffice.core.declarations import check_all, load_declarations
from console.app import console_rules
from backoffice.core.settings import normalise_database_url
from models.reflection import reflect


def uncomment(text: str) -> str:
    """Every commented option switched on, as a maintainer would."""
    return re.sub(r"^# (\w+ = )", r"\1", text, flags=re.M)


def test_scaffold_writes_every_table_and_refuses_to_overwrite(db_url, tmp_path):
    out = tmp_path / "backoffice.toml"
    env = {"DATABASE_URL": db_url, "BACKOFFICE_CONFIG": str(out)}
    result = CliRunner().invoke(main, ["scaffold"], env=env)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    engine = create_engine(normalise_database_url(db_url))
    try:
        reflection = reflect(engine)
    finally:
        engine.dispose()
    assert set(tomllib.loads(text)["views"]) == set(reflection.tables)
    assert '# list = ["id", "tmdb_id", "imdb_id", "title", "original_title", "release_date",' in text
    assert '# search = ["imdb_id", "title", "original_title", "overview", "poster_path", "original_language"]' in text
    assert '# create = "admin"\n# edit = "operator"\n# delete = "admin"' in text
    # commented, the file changes nothing; uncommented, every default is valid and checks clean
    assert check_all(load_declarations(out), reflection, console_rules()) == []
    switched_on = tmp_path / "on.toml"
    switched_on.write_text(uncomment(text))
    assert check_all(load_declarations(switched_on), reflection, console_rules()) == []
    movies = tomllib.loads(uncomment(text))["views"]["movies"]
    # fulltext: only where a tsvector column exists, and as an explanation (it replaces search)
    # confirm_delete and approval: explanations too, since each switches a safeguard on
    assert set(movies) == set(console_rules().options["views"]) - {"labels", "links", "actions", "fulltext",
                                                                   "fulltext_config", "confirm_delete", "approval"}
    assert movies["formatters"] == {"release_date": "date", "tmdb_synced_at": "datetime",
                                    "created_at": "datetime", "updated_at": "datetime"}

    out.write_text("# mine\n")
    refused = CliRunner().invoke(main, ["scaffold"], env=env)
    assert refused.exit_code == 1 and f"{out} exists; use --force to overwrite it" in refused.output
    assert out.read_text() == "# mine\n"
    forced = CliRunner().invoke(main, ["scaffold", "--force"], env=env)
    assert forced.exit_code == 0 and out.read_text() == text


def test_scaffold_needs_a_database(tmp_path):
    result = CliRunner().invoke(main, ["scaffold", "-o", str(tmp_path / "x.toml")], env={"DATABASE_URL": ""})
    assert result.exit_code == 1 and "DATABASE_URL is not set" in result.output
    assert not (tmp_path / "x.toml").exists()
