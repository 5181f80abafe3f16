"""Helpers for the reflection tests: load public SQL scripts, walk every screen over HTTP."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

__all__ = ["load_sql_file", "walk_every_screen", "form_fields", "run_sql"]


def load_sql_file(server, database: str, path, skip=()) -> str:
    """Create ``database`` and run the SQL script ``path`` into it (one transaction, stops on error).

    Lines starting with ``skip`` prefixes (psql meta-commands, CREATE DATABASE) are left out."""
    url = server.create_database(database)
    script = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                       if not any(line.startswith(prefix) for prefix in skip))
    run_sql(url, script)
    return url


def run_sql(url: str, statements: str) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(statements)
    finally:
        conn.close()


class _FormParser(HTMLParser):
    """The fields of the first form with a CSRF token, as a browser would submit them."""

    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._in_form = self._done = False
        self._select = self._textarea = None
        self._text: list[str] = []
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self._done:
            return
        if tag == "form" and a.get("method", "").lower() == "post":
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("submit", "button", "file"):
                return
            self.fields.append((a["name"], a.get("value", "y" if kind == "checkbox" else "")))
        elif tag == "select" and a.get("name"):
            self._select, self._options = a["name"], []
            self._multiple = "multiple" in a
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], []

    def handle_endtag(self, tag):
        if tag == "form" and self._in_form:
            self._in_form, self._done = False, True
        elif tag == "select" and self._select is not None:
            chosen = [v for v, sel in self._options if sel]
            if not chosen and not self._multiple and self._options:
                chosen = [self._options[0][0]]
            self.fields.extend((self._select, v) for v in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            self.fields.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)


def form_fields(html: str) -> list[tuple[str, str]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.fields


def _first_link(html: str, action: str) -> str | None:
    match = re.search(r'href="([^"]*/' + action + r'/\?[^"]*)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def walk_every_screen(app) -> dict[str, list[str]]:
    """GET every list page; for relations holding rows GET details (and edit, and POST the
    unchanged edit form back). Returns what was exercised; asserts on every answer."""
    reflection = app.extensions["backoffice.reflection"]
    db = app.extensions["backoffice.db"]
    client = app.test_client()
    seen: dict[str, list[str]] = {"list": [], "details": [], "saved": []}
    for screen, entry in reflection.tables.items():
        base = "/admin/" + screen
        response = client.get(base + "/")
        assert response.status_code == 200, (screen, response.status_code, response.get_data(as_text=True)[:500])
        html = response.get_data(as_text=True)
        assert "Traceback" not in html
        seen["list"].append(screen)
        create = client.get(base + "/new/")
        if entry.read_only:
            # no create: the role gate answers 404, as for a page that does not exist
            assert create.status_code == 404 and 'href="' + base + '/new/' not in html, screen
        else:
            assert create.status_code == 200, (screen, "create", create.status_code)
        export = client.get(base + "/export/csv/")
        assert export.status_code == 200 and export.get_data(as_text=True), (screen, "export", export.status_code)
        export.close()
        with app.app_context():
            try:
                rows = db.session.execute(select(func.count()).select_from(entry.table)).scalar()
            except DBAPIError:  # e.g. a materialized view never refreshed: the page said why
                assert "cannot be read" in html, screen
                seen.setdefault("unreadable", []).append(screen)
                continue
        if not rows:
            continue
        details = _first_link(html, "details")
        assert details, f"{screen}: {rows} rows but no details link on the list"
        answer = client.get(details)
        assert answer.status_code == 200, (screen, details, answer.status_code, html[html.find(details[:30]) - 300:][:600])
        seen["details"].append(screen)
        if entry.read_only:
            assert _first_link(html, "edit") is None, f"{screen} is read-only but offers edit"
            continue
        edit = _first_link(html, "edit")
        assert edit, f"{screen}: writable table without an edit link"
        page = client.get(edit)
        assert page.status_code == 200, (screen, edit, page.status_code)
        fields = form_fields(page.get_data(as_text=True))
        assert any(name == "csrf_token" for name, _ in fields), screen
        saved = client.post(edit, data=_multi(fields))
        body = saved.get_data(as_text=True)
        assert saved.status_code == 302, (screen, unquote(edit), _errors(body))
        after = client.get(saved.headers["Location"]).get_data(as_text=True)
        assert not _errors(after), (screen, _errors(after))
        seen["saved"].append(screen)
    return seen


def _multi(fields):
    from werkzeug.datastructures import MultiDict

    return MultiDict(fields)


def _errors(html: str) -> list[str]:
    # error flashes and field errors; the "auth is off" banner (backoffice-banner) is not one
    found = re.findall(r'class="(?![^"]*backoffice-banner)[^"]*(?:alert-danger|invalid-feedback|help-block)[^"]*"'
                       r'[^>]*>(.*?)</', html, re.S)
    return [" ".join(f.split()) for f in found][:10]
