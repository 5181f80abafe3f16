"""Any schema, any row: the classes of rows real databases hold, each tried on purpose.

The schemas are ours (tests/fixtures/adversarial/): keys of bytea, uuid, timestamps with
time zone, numerics, booleans, empty and punctuated text, untyped SQLite values; tables
without keys holding a row of NULLs; views that compute now() or random(); a tree whose
root points at itself, a two-table cycle, a composite foreign key; blobs where text
was declared. Every row of every relation is opened, and saved unchanged where editable.
"""
from __future__ import annotations

import logging
import re
from html import unescape

import pytest


from tests.adversarial import adversarial_app as _app
from tests.adversarial import pg_url, sqlite_url  # noqa: F401  (fixtures)
from tests.conftest import csrf_token, outside_sql
from tests.reflection_walk import INLINE_DETAILS, form_fields, walk
from views.report import report_text




def _links(html: str, base: str, action: str = "details") -> list[str]:
    return [unescape(link) for link in re.findall(r'href="(' + re.escape(base) + "/" + action + r'/\?[^"]*)"', html)]


def test_every_row_of_every_relation_opens_and_saves_unchanged_on_sqlite(sqlite_url):
    app = _app(sqlite_url)
    done = walk(app, every_row=True)
    print("\n" + done.summary("adversarial (SQLite, ours)"))
    assert not done.failures, "\n".join(done.failures)
    assert len(done.steps["list"]) == done.relations == 21
    assert set(done.steps["inline"]) == {"null_view", "volatile_view"}
    assert {"word counts", "blobs_only", "blob_pk", "untyped_key", "text_key", "area_type", "team", "player",
            "book", "Order Lines (2024)", "docs"} <= set(done.steps["saved"])


@pytest.mark.postgres
def test_every_row_of_every_relation_opens_and_saves_unchanged_on_postgresql(pg_url):
    app = _app(pg_url, BACKOFFICE_SCHEMAS="odd schema")
    done = walk(app, every_row=True)
    print("\n" + done.summary("adversarial (PostgreSQL, ours)"))
    assert not done.failures, "\n".join(done.failures)
    assert len(done.steps["list"]) == done.relations == 18
    assert set(done.steps["inline"]) == {"null_view", "volatile_view"}
    assert {"bytea_key", "typed_key", "area_type", "team", "player", "book", "tagged", "every_type", "docs",
            "Names, with punctuation!"} <= set(done.steps["saved"])
    assert {"no_key", "no_key_bytes", "measurement"} <= set(done.steps["details"]) - set(done.steps["saved"])


def test_each_key_opens_its_own_row_on_sqlite(sqlite_url):
    client = _app(sqlite_url).test_client()
    for screen, labels in (("text_key", ["empty code", "comma", "punctuation", "space", "backslash comma"]),
                           ("untyped_key", ["integer one", "text one", "blob one", "real"]),
                           ("blob_pk", ["bytes", "empty bytes"])):
        html = client.get(f"/admin/{screen}/").get_data(as_text=True)
        links = _links(html, f"/admin/{screen}")
        opened = [re.sub(r"\s+", " ", client.get(link).get_data(as_text=True)) for link in links]
        for label in labels:  # 1, '1' and x'01' are three rows, each opened by its own link
            assert sum(f"<td> {label} </td>" in page or f">{label}<" in page for page in opened) == 1, (screen, label)


def test_a_table_without_a_key_is_edited_through_its_rowid_on_sqlite(sqlite_url):
    app = _app(sqlite_url)
    entry = app.extensions["backoffice.reflection"].tables["word counts"]
    assert (entry.locator, entry.primary_key, entry.read_only) == ("rowid", ("rowid",), False)
    client = app.test_client()
    html = client.get("/admin/word counts/").get_data(as_text=True)
    assert len(_links(html, "/admin/word%20counts")) == 4  # the row of NULLs included
    token = csrf_token(client, "/admin/word counts/new/")
    assert client.post("/admin/word counts/new/", data={"csrf_token": token, "word": "beta", "n": "7"}).status_code == 302
    page = client.get("/admin/word counts/edit/?id=2").get_data(as_text=True)
    fields = dict(form_fields(page))
    fields["n"] = "5"
    assert client.post("/admin/word counts/edit/?id=2", data=fields).status_code == 302
    rows = outside_sql(app, 'SELECT rowid, word, n FROM "word counts" ORDER BY rowid')
    assert [tuple(r.values()) for r in rows] == [(1, "alpha", 1), (2, None, 5), (3, "", 0), (4, "a,b", 2),
                                                 (5, "beta", 7)]


@pytest.mark.postgres
def test_a_postgresql_table_without_a_key_is_read_only_and_its_rows_open_by_position(pg_url):
    app = _app(pg_url)
    entry = app.extensions["backoffice.reflection"].tables["no_key"]
    assert entry.read_only and entry.locator == "ctid" and entry.primary_key == ("ctid",)
    client = app.test_client()
    links = _links(client.get("/admin/no_key/").get_data(as_text=True), "/admin/no_key")
    assert len(links) == 4  # the row of NULLs and both duplicates included
    assert all(client.get(link).status_code == 200 for link in links)
    report = report_text(app.extensions["backoffice.reflection"])
    assert "rows located by their physical position (ctid)" in report and "goes stale" in report
    assert "(tableoid, ctid)" in report  # the partitioned parent: positions are per partition


def test_rows_that_cannot_be_found_again_show_their_details_in_the_list(sqlite_url):
    app = _app(sqlite_url)
    client = app.test_client()
    volatile = client.get("/admin/volatile_view/").get_data(as_text=True)
    assert volatile.count(INLINE_DETAILS) == 2 and not _links(volatile, "/admin/volatile_view")
    assert "root" in volatile.split(INLINE_DETAILS, 1)[1]  # the values are there, in the list
    nulls = client.get("/admin/null_view/").get_data(as_text=True)
    assert nulls.count(INLINE_DETAILS) == 1 and len(_links(nulls, "/admin/null_view")) == 1
    report = report_text(app.extensions["backoffice.reflection"])
    assert "rows cannot be located again: the definition computes random anew on every read" in report
    assert "json/array" not in report  # untyped SQLite columns identify rows like any other


def test_references_on_cycles_save_unchanged_and_change(sqlite_url):
    app = _app(sqlite_url)
    client = app.test_client()
    fields = dict(form_fields(client.get("/admin/area_type/edit/?id=2").get_data(as_text=True)))
    fields["parent_area_type"] = "2"  # the child becomes a root: points at itself
    assert client.post("/admin/area_type/edit/?id=2", data=fields).status_code == 302
    fields = dict(form_fields(client.get("/admin/team/edit/?id=1").get_data(as_text=True)))
    assert fields["captain"] == "1"
    assert client.post("/admin/team/edit/?id=1", data=fields).status_code == 302
    fields = dict(form_fields(client.get("/admin/book/edit/?id=1").get_data(as_text=True)))
    assert client.post("/admin/book/edit/?id=1", data=fields).status_code == 302
    assert [tuple(r.values()) for r in outside_sql(app, "SELECT id, parent FROM area_type ORDER BY id")] == [
        (1, 1), (2, 2)]
    assert "Circular dependency" not in client.get("/admin/area_type/").get_data(as_text=True)


def test_blobs_anywhere_are_shown_by_size_and_never_posted_as_text(sqlite_url):
    app = _app(sqlite_url)
    outside_sql(app, "UPDATE docs SET overview = x'0204' WHERE id = 1")  # a blob in a TEXT column
    client = app.test_client()
    for url in ("/admin/docs/details/?id=1", "/admin/untyped/details/?id=1"):
        page = client.get(url).get_data(as_text=True)
        assert re.search(r"\b[23] bytes\b", page) and "b&#39;" not in page and "\\x02" not in page, url
    assert "text that is not UTF-8 (3 bytes)" in client.get("/admin/docs/details/?id=3").get_data(as_text=True)
    for url, column in (("/admin/docs/edit/?id=1", "overview"), ("/admin/docs/edit/?id=3", "overview"),
                        ("/admin/untyped/edit/?id=1", "anything")):
        names = [name for name, _ in form_fields(client.get(url).get_data(as_text=True))]
        assert column not in names, url
    listed = client.get("/admin/docs/").get_data(as_text=True)
    assert "2 bytes" in listed and "text that is not UTF-8" in listed
    export = client.get("/admin/docs/export/csv/").get_data(as_text=True)
    assert "2 bytes" in export


@pytest.mark.postgres
def test_bytea_keys_open_and_save(pg_url):
    client = _app(pg_url).test_client()
    links = _links(client.get("/admin/bytea_key/").get_data(as_text=True), "/admin/bytea_key")
    pages = [client.get(link).get_data(as_text=True) for link in links]
    assert len(pages) == 3 and all(re.search(r">\s*(bytes|empty bytes|two commas)\s*<", p) for p in pages)


def test_an_error_inside_a_view_is_logged_once_as_itself(sqlite_url, monkeypatch, caplog):
    import views.reading

    calls = []

    def broken(*args):
        calls.append(args)
        raise TypeError("can't escape str to binary")

    monkeypatch.setattr(views.reading, "find_row", broken)
    app = _app(sqlite_url)
    app.config["TESTING"] = False  # the console's own error page, as in production
    with caplog.at_level(logging.ERROR):
        answer = app.test_client().get("/admin/blob_pk/details/?id=%0200ff")
    assert answer.status_code == 500 and "Traceback" not in answer.get_data(as_text=True)
    assert len(calls) == 1  # not retried with cls=
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1 and str(logged[0].exc_info[1]) == "can't escape str to binary"
