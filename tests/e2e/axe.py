"""axe-core for the accessibility tests: find the pinned copy, run it in a page, sum it up.

axe-core comes from the npm registry and is a test-only dependency: it is never served
by the console and never part of the wheel or the image. ``.ci/run`` installs it with

    npm install --prefix build/axe axe-core@<AXE_VERSION> --no-audit --no-fund

(``BACKOFFICE_AXE`` may name another ``axe.min.js``). Without it the accessibility tests
skip with that command, or fail when ``BACKOFFICE_REQUIRE_BROWSER=1``.

The script is evaluated through the DevTools protocol (``page.evaluate``), not added as a
``<script>`` element: the console's Content-Security-Policy forbids inline scripts, and
the test must check the page as served, policy included.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from functools import lru_cache
from pathlib import Path

from tests.services import require

__all__ = ["AXE_VERSION", "IMPACTS", "BLOCKING", "axe_path", "axe_source", "run_axe", "by_impact",
           "describe"]

#: The version .ci/run installs; a different copy found on disk is refused, so that the
#: figures quoted for a page always come from the same rules.
AXE_VERSION = "4.14.1"
IMPACTS = ("critical", "serious", "moderate", "minor")
#: The impacts issue 19 allows none of.
BLOCKING = ("critical", "serious")
REPO = Path(__file__).resolve().parents[2]
INSTALL = f"npm install --prefix build/axe axe-core@{AXE_VERSION} --no-audit --no-fund"


def _installed_version(script: Path) -> str | None:
    package = script.parent / "package.json"
    try:
        return json.loads(package.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None


def axe_path() -> Path | None:
    """The pinned ``axe.min.js``, or None when it is not installed."""
    configured = os.environ.get("BACKOFFICE_AXE")
    script = Path(configured) if configured else REPO / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        return None
    if not configured and _installed_version(script) != AXE_VERSION:
        return None  # an older install under build/: treat as missing, the command above replaces it
    return script


@lru_cache(maxsize=1)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def axe_source() -> str:
    """The script's text; skips (or fails under BACKOFFICE_REQUIRE_BROWSER=1) when missing."""
    path = require(axe_path(), f"axe-core {AXE_VERSION} (build/axe)", "BACKOFFICE_REQUIRE_BROWSER", INSTALL)
    return _read(path)


def run_axe(page) -> list[dict]:
    """Run axe-core on the page as it is now (WCAG 2.x A and AA plus best practices).

    Returns axe's violations: each with ``id``, ``impact``, ``help`` and ``nodes``.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations'],
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
    }""")
    return result


def by_impact(violations: list[dict]) -> dict[str, int]:
    """Affected elements per impact, every impact present (0 when none)."""
    counts = Counter()
    for violation in violations:
        counts[violation["impact"] or "minor"] += len(violation["nodes"])
    return {impact: counts.get(impact, 0) for impact in IMPACTS}


def describe(violations: list[dict], impacts=BLOCKING) -> str:
    """A readable list of the violations of the given impacts, with where they are."""
    lines = []
    for violation in violations:
        if violation["impact"] not in impacts:
            continue
        lines.append(f"- {violation['impact']} {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    at {node['target']}: {node['summary'].splitlines()[-1].strip() if node['summary'] else ''}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    ... and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)
