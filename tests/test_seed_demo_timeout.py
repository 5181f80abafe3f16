"""``backoffice seed-demo`` is a maintenance command: the console's per-request statement
timeout (STATEMENT_TIMEOUT_MS) does not apply to it, whatever it is set to."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from backoffice.core.settings import normalise_database_url
from console.cli import main

pytestmark = pytest.mark.postgres


def test_seed_demo_runs_past_a_statement_timeout_shorter_than_its_statements(pg_server):
    url = pg_server.create_database("seed_timeout")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "STATEMENT_TIMEOUT"))}
    env.update(DATABASE_URL=url, STATEMENT_TIMEOUT_MS="1")  # every COPY of the seed takes longer
    engine = create_engine(normalise_database_url(url), connect_args={"options": "-c statement_timeout=1"})
    try:
        with pytest.raises(Exception, match="statement timeout"):  # the setting does bite on this server
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_sleep(0.05)"))
    finally:
        engine.dispose()
    result = CliRunner().invoke(main, ["seed-demo", "--movies", "300", "--seed", "5", "--report"], env=env)
    assert result.exit_code == 0, result.output
    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM movies")).scalar() == 300
            assert conn.execute(text("SELECT count(*) FROM movie_credits")).scalar() > 0
    finally:
        engine.dispose()


def test_seed_demo_says_in_its_help_that_it_runs_without_the_timeout():
    result = CliRunner().invoke(main, ["seed-demo", "--help"])
    assert result.exit_code == 0 and "without the console's per-request statement timeout" in " ".join(
        result.output.split())
