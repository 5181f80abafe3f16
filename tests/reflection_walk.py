"""Helpers for the reflection tests: load public SQL scripts, walk every screen over HTTP."""
from __future__ import annotations

import re
from html import unescape
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

__all__ = ["load_sql_file", "walk", "walk_every_screen", "Walk", "form_fields", "run_sql", "INLINE_DETAILS", "table_image",
           "fill_one_row_each"]


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
            # as a browser reads it: line breaks normalised, then one leading newline dropped
            text = "".join(self._text).replace("\r\n", "\n").replace("\r", "\n")
            self.fields.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)


def form_fields(html: str) -> list[tuple[str, str]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.fields


def _links(html: str, action: str, base: str | None = None) -> list[str]:
    """Links to ``action`` pages (of screen ``base`` only, when given: cells link other screens)."""
    found = [unescape(link) for link in re.findall(r'href="([^"]*/' + action + r'/\?[^"]*)"', html)]
    if base is not None:
        found = [link for link in found if unquote(link).startswith(base + "/" + action + "/?")]
    return list(dict.fromkeys(found))


def _first_link(html: str, action: str, base: str | None = None) -> str | None:
    links = _links(html, action, base)
    return links[0] if links else None


#: Marks a list row whose details are shown in the list itself (the row cannot be located again).
INLINE_DETAILS = "data-details-inline"


@dataclass
class Walk:
    """What a walk over every screen exercised, per step, and what failed."""

    steps: dict[str, list[str]] = field(default_factory=lambda: {
        "list": [], "details": [], "edit": [], "saved": [], "unreadable": [], "inline": []})
    failures: list[str] = field(default_factory=list)
    relations: int = 0
    with_rows: int = 0
    editable_with_rows: int = 0

    def summary(self, name: str) -> str:
        s = self.steps
        return (f"{name}: {self.relations} relations; list {len(s['list'])}/{self.relations}; details "
                f"{len(s['details'])}/{self.with_rows} with rows ({len(s['inline'])} shown in the list); "
                f"edit form {len(s['edit'])}/{self.editable_with_rows}; unchanged save "
                f"{len(s['saved'])}/{self.editable_with_rows}; failures {len(self.failures)}")


def walk(app, every_row: bool = False) -> Walk:
    """GET every list page and its CSV export; for relations holding rows GET the details
    of the rows on the first page (every one, or the first), and for editable ones the edit
    form, then POST it back unchanged. Records failures instead of stopping at the first one;
    any 5xx is a failure."""
    reflection = app.extensions["backoffice.reflection"]
    db = app.extensions["backoffice.db"]
    client = app.test_client()
    done = Walk(relations=len(reflection.tables))
    for screen, entry in reflection.tables.items():
        try:
            _walk_one(app, client, db, screen, entry, done, every_row)
        except AssertionError as exc:
            done.failures.append(f"{screen}: {exc}")
        except Exception as exc:  # an error page in the making (the test client re-raises it)
            done.failures.append(f"{screen}: 500 {type(exc).__name__}: {exc}")
    return done


def _walk_one(app, client, db, screen, entry, done: Walk, every_row: bool) -> None:
    base = "/admin/" + screen
    response = client.get(base + "/")
    if response.status_code == 503:
        # The database did not answer in time (the console's own 503, tested with faults
        # in test_serving_faults): this walk is about what each relation gives, so it asks
        # once more and says so, rather than failing the schema on a stalled moment.
        print(f"{screen}: list answered 503 once (database slow to answer); asked again")
        response = client.get(base + "/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, ("list", response.status_code, _errors(html) or html[:300])
    assert "Traceback" not in html
    done.steps["list"].append(screen)
    create = client.get(base + "/new/")
    if entry.read_only:
        # no create: the role gate answers 404, as for a page that does not exist
        assert create.status_code == 404 and 'href="' + base + '/new/' not in html, "read-only offers create"
    else:
        assert create.status_code == 200, ("create", create.status_code)
    export = client.get(base + "/export/csv/")
    assert export.status_code == 200 and export.get_data(as_text=True), ("export", export.status_code)
    export.close()
    with app.app_context():
        try:
            rows = db.session.execute(select(func.count()).select_from(entry.table)).scalar()
        except DBAPIError:  # e.g. a materialized view never refreshed: the page said why
            assert "cannot be read" in html, "unreadable without a reason"
            done.steps["unreadable"].append(screen)
            return
    if not rows:
        return
    done.with_rows += 1
    details = _links(html, "details", base)
    inline = html.count(INLINE_DETAILS)
    assert details or inline, f"{rows} rows but neither a details link nor details in the list"
    for link in details if every_row else details[:1]:
        answer = client.get(link)
        assert answer.status_code == 200, ("details", unquote(link), answer.status_code)
        assert "Record does not exist" not in _flashes(client, answer), ("details", unquote(link), "not found")
    done.steps["details"].append(screen)
    if inline:
        done.steps["inline"].append(screen)
    if entry.read_only:
        assert _first_link(html, "edit", base) is None, "read-only but offers edit"
        return
    done.editable_with_rows += 1
    edits = _links(html, "edit", base)
    assert edits, "writable table without an edit link"
    pages = []
    for edit in edits if every_row else edits[:1]:
        page = client.get(edit)
        assert page.status_code == 200, ("edit", unquote(edit), page.status_code)
        pages.append((edit, page.get_data(as_text=True)))
    done.steps["edit"].append(screen)
    before = table_image(app, entry)
    for edit, page in pages:
        fields = form_fields(page)
        assert any(name == "csrf_token" for name, _ in fields), "edit form without a CSRF token"
        saved = client.post(edit, data=_multi(fields))
        body = saved.get_data(as_text=True)
        assert saved.status_code == 302, ("save", unquote(edit), saved.status_code, _errors(body))
        after = client.get(saved.headers["Location"]).get_data(as_text=True)
        assert not _errors(after), ("save", unquote(edit), _errors(after))
    changed = sorted(set(table_image(app, entry)) ^ set(before))[:4]
    assert not changed, ("unchanged save changed rows", changed)
    done.steps["saved"].append(screen)


def table_image(app, entry) -> list[str]:
    """Every row of ``entry`` as the database itself writes it (PostgreSQL's row text, SQLite's
    storage class and bytes of each column): equal images, equal rows."""
    db = app.extensions["backoffice.db"]
    with app.app_context():
        preparer = db.engine.dialect.identifier_preparer
    name = preparer.format_table(entry.table)
    columns = [c for c in entry.table.columns if not c.info.get("backoffice_locator")]
    with app.app_context(), db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            sql = f"SELECT CAST(walked_row AS text) FROM {name} AS walked_row"
        else:  # the storage class and the bytes of every value
            sql = "SELECT " + " || ',' || ".join(
                f"typeof({preparer.quote(c.name)}) || ':' || hex({preparer.quote(c.name)})" for c in columns) + f" FROM {name}"
        return sorted(row[0] for row in conn.exec_driver_sql(sql))


def _flashes(client, answer) -> str:
    if answer.status_code in (301, 302, 303):
        return client.get(answer.headers["Location"]).get_data(as_text=True)
    return answer.get_data(as_text=True)


def walk_every_screen(app, every_row: bool = False, name: str | None = None) -> dict[str, list[str]]:
    """:func:`walk`, asserting that nothing failed; returns the steps exercised (and prints
    the figures per step under ``name``, for ``pytest -s``)."""
    done = walk(app, every_row)
    if name:
        print("\n" + done.summary(name))
    assert not done.failures, "\n".join(done.failures)
    return done.steps


def _multi(fields):
    from werkzeug.datastructures import MultiDict

    return MultiDict(fields)


def _errors(html: str) -> list[str]:
    # error flashes and field errors; the "auth is off" banner (backoffice-banner) is not one
    found = re.findall(r'class="(?![^"]*backoffice-banner)[^"]*(?:alert-danger|invalid-feedback|help-block)[^"]*"'
                       r'[^>]*>(.*?)</', html, re.S)
    return [" ".join(f.split()) for f in found][:10]


#: A value of each PostgreSQL type for :func:`fill_one_row_each` (text types get 'M').
_SAMPLE = {
    "integer": "1", "smallint": "1", "bigint": "1", "numeric": "1", "real": "1", "double precision": "1",
    "boolean": "true", "date": "'2020-01-02'", "timestamp without time zone": "'2020-01-02 03:04:05.678901'",
    "timestamp with time zone": "'2020-01-02 03:04:05+00'", "uuid": "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
    "xml": "'<doc><a>1</a></doc>'", "bytea": "'\\x0102ff'", "text": "'M'", "character varying": "'M'",
    "character": "'M'", "money": "1", "interval": "'1 day'", "time without time zone": "'01:02:03'",
}


def fill_one_row_each(url: str, schemas: list[str], overrides: dict | None = None) -> list[str]:
    """Insert one row of sample values into every base table of ``schemas`` (foreign keys
    and triggers off, as a restore does), refresh materialized views; returns the tables
    that refused their row. ``overrides`` maps (table, column) to an SQL literal."""
    import psycopg2

    overrides = overrides or {}
    conn = psycopg2.connect(url)
    conn.autocommit = True
    refused = []
    try:
        cursor = conn.cursor()
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "SELECT c.table_schema, c.table_name, c.column_name, c.data_type, c.column_default "
            "FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE t.table_type = 'BASE TABLE' AND c.table_schema = ANY(%s) "
            "ORDER BY c.table_schema, c.table_name, c.ordinal_position", (schemas,))
        tables: dict = {}
        for schema, table, column, kind, default in cursor.fetchall():
            if not (default or "").startswith("nextval"):
                tables.setdefault((schema, table), []).append(
                    (column, overrides.get((table, column), _SAMPLE.get(kind, "NULL"))))
        for (schema, table), columns in tables.items():
            names = ", ".join(f'"{c}"' for c, _v in columns)
            try:
                cursor.execute(f'INSERT INTO "{schema}"."{table}" ({names}) VALUES ({", ".join(v for _c, v in columns)})')
            except psycopg2.Error as exc:
                refused.append(f"{schema}.{table}: {str(exc).splitlines()[0]}")
        cursor.execute("SELECT schemaname, matviewname FROM pg_matviews WHERE schemaname = ANY(%s)", (schemas,))
        for schema, name in cursor.fetchall():
            cursor.execute(f'REFRESH MATERIALIZED VIEW "{schema}"."{name}"')
    finally:
        conn.close()
    return refused
