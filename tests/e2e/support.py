"""Helpers shared by the browser tests: accounts, screenshots, layout checks."""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from tests import auth_helpers

__all__ = ["ADMIN", "OPERATOR", "VIEWER", "Account", "LAPTOP", "TABLET", "LOCAL_HOSTS", "SCREENSHOTS",
           "screenshot", "assert_fits"]

REPO = Path(__file__).resolve().parents[2]
#: Where screenshots go: build/screenshots, never a tracked file. ``bash scripts/screenshots``
#: points BACKOFFICE_SCREENSHOTS at docs/screenshots to refresh the README's pictures.
SCREENSHOTS = Path(os.environ.get("BACKOFFICE_SCREENSHOTS") or REPO / "build" / "screenshots")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}


@dataclass(frozen=True)
class Account:
    """An operator account of the live console."""

    username: str
    password: str
    role: str

    @property
    def headers(self) -> dict[str, str]:
        """Context ``extra_http_headers`` sending these credentials with every request.

        Playwright's ``http_credentials`` answer each 401 challenge; a fresh context then
        draws one challenge per parallel sub-resource (a dozen on a form page), and the
        console counts each as a failed sign-in. Tests that are not about signing in
        therefore send the header up front, as a browser does once it has learnt it.
        """
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @property
    def credentials(self) -> dict[str, str]:
        """Playwright ``http_credentials``: given when the server asks, as at the prompt."""
        return {"username": self.username, "password": self.password}


ADMIN = Account(*auth_helpers.ADMIN, "admin")
OPERATOR = Account("otto", "operator pass phrase", "operator")
VIEWER = Account("vera", "viewer pass phrase", "viewer")


def screenshot(page, name: str, full_page: bool = False) -> Path:
    """Save ``<SCREENSHOTS>/<name>.png`` (overwritten on each run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def assert_fits(page) -> None:
    """No horizontal scrolling of the page itself (tables may scroll in .table-responsive)."""
    page.wait_for_load_state("load")  # after a click the next page may not have a body yet
    scroll, inner = page.evaluate("[document.body.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{page.url}: the page is {scroll}px wide in a {inner}px window"
