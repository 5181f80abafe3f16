"""``python -m benchmarks.bench`` end to end on a small catalog: three apps served by gunicorn,
every scenario answered with 200, the review applies really applied, and a figure in
every cell of the table (the speed itself is measured by running the bench, not here)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_benchmark_runs_every_scenario_and_prints_every_figure(pg_demo_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "OPERATOR_", "PORT"))}
    # Run from elsewhere (nothing written in the checkout), the repository root on the path.
    env.update(DATABASE_URL=pg_demo_url, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--movies", "2000", "--requests", "5", "--seconds", "2",
         "--data-dir", str(tmp_path / "bench")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "seeding" not in out  # the catalog in DATABASE_URL had the movies asked for: reused
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| ([^|]+?) \| (.*)$", out, re.M)}
    cell = r"\d+\.\d / \d+\.\d"
    scenarios = ("list, first page", "list, page 50", "title search, no match", "title search, frequent word",
                 "filtered list")  # 2,000 movies: page 50 is the middle
    for scenario in scenarios:
        assert re.match(rf"{cell} \| {cell} \| \d+\.\d\d \| ", rows[scenario]), (scenario, out)
    assert re.match(rf"{cell} \| {cell} \| \d+\.\d\d \| {cell} \| \d+\.\d\d \|", rows["list, first page"])
    assert re.match(cell, rows["catalog-health overview"]), out  # no "(HTTP ...)" in the label either
    # The apply against plain Flask-Admin's edit form opened and saved with the same change.
    apply = rows["review apply (confirm + execute) / plain: edit form + save"]
    assert re.match(rf"{cell} \| {cell} \| \d+\.\d\d \|", apply), out
    assert not re.search(r"\(HTTP \d+", out)
    assert re.match(r"\d+ \| \d+ \| \d+\.\d\d \| \d+ \| \d+\.\d\d \|", rows["list page, 8 clients, requests/s"])
    for memory in ("worker RSS MB (each)", "worker PSS MB (each)", "worker private MB (each)"):
        assert re.match(r"\d+, \d+ \| \d+, \d+ \| \| \d+, \d+ \|", rows[memory]), (memory, out)
    assert (tmp_path / "bench" / "logs" / "console.log").exists()
