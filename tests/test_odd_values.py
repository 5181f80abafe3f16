"""One odd value must not break a screen or swell a page (issue 16, items 6 and 7).

JSON nested thousands of levels deep (read, exported, opened, edited, posted), 1 MB
texts (lists, hover texts and the audit list stay bounded), and PostgreSQL arrays whose
elements hold commas, quotes, backslashes, NULLs and empty strings, edited and saved.
"""
from __future__ import annotations

import re

import pytest


from tests.adversarial import adversarial_app as _app
from tests.adversarial import pg_url, sqlite_url  # noqa: F401  (fixtures)
from tests.conftest import csrf_token, outside_sql
from tests.reflection_walk import form_fields, table_image
from views.display import HOVER_TEXT_LIMIT

DEEP = 3000
MEGABYTE = 1024 * 1024




@pytest.fixture(params=["sqlite", "postgresql"])
def odd_url(request):
    if request.param == "postgresql":
        request.applymarker(pytest.mark.postgres)
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def test_json_nested_thousands_deep_lists_exports_opens_and_saves_unchanged(odd_url):
    app = _app(odd_url)
    outside_sql(app, "UPDATE docs SET body = :body WHERE id = 2", body="[" * DEEP + "]" * DEEP)
    client = app.test_client()
    entry = app.extensions["backoffice.reflection"].tables["docs"]
    before = table_image(app, entry)
    for url in ("/admin/docs/", "/admin/docs/export/csv/", "/admin/docs/details/?id=2", "/admin/docs/edit/?id=2"):
        answer = client.get(url)
        assert answer.status_code == 200, url
        # the generic list leaves JSON to the details page (at most 8 short columns): it must only answer
        shown = url.endswith(("/export/csv/", "details/?id=2"))
        assert "JSON nested deeper than 200 levels" in answer.get_data(as_text=True) or not shown, url
    fields = form_fields(client.get("/admin/docs/edit/?id=2").get_data(as_text=True))
    assert "body" not in dict(fields)  # never posted back as text
    assert client.post("/admin/docs/edit/?id=2", data=dict(fields)).status_code == 302
    assert table_image(app, entry) == before


@pytest.mark.postgres
def test_posting_json_nested_too_deep_is_refused_with_a_message(pg_url):
    app = _app(pg_url)
    client = app.test_client()
    token = csrf_token(client, "/admin/docs/new/")
    deep = "[" * 2000 + "]" * 2000
    answer = client.post("/admin/docs/new/", data={"csrf_token": token, "id": "9", "body": deep, "overview": "x"})
    html = answer.get_data(as_text=True)
    assert answer.status_code in (200, 422) and "JSON nested deeper than 200 levels is not accepted here" in html
    assert outside_sql(app, "SELECT count(*) AS n FROM docs WHERE id = 9")[0]["n"] == 0
    token = csrf_token(client, "/admin/docs/new/")
    fine = client.post("/admin/docs/new/", data={"csrf_token": token, "id": "9", "body": '{"a": [[1]]}'})
    assert fine.status_code == 302
    assert outside_sql(app, "SELECT body::text AS body FROM docs WHERE id = 9")[0]["body"] == '{"a": [[1]]}'


def test_megabyte_texts_keep_lists_and_the_audit_list_small(odd_url):
    app = _app(odd_url)
    for n in range(20):
        outside_sql(app, "INSERT INTO docs (id, overview) VALUES (:id, :text)", id=100 + n, text=str(n) * MEGABYTE)
    client = app.test_client()
    listed = client.get("/admin/docs/?page_size=50").get_data(as_text=True)
    assert len(listed) < 300_000  # 20 MB of overviews, a page of a few tens of KB
    assert max((len(t) for t in re.findall(r'title="([^"]*)"', listed)), default=0) <= HOVER_TEXT_LIMIT
    fields = dict(form_fields(client.get("/admin/docs/edit/?id=100").get_data(as_text=True)))
    fields["overview"] = "y" * MEGABYTE
    assert client.post("/admin/docs/edit/?id=100", data=fields).status_code == 302
    audit = client.get("/admin/audit/").get_data(as_text=True)
    assert "yyyy" in audit and len(audit) < 300_000  # the 1 MB old and new values, cut


@pytest.mark.postgres
def test_array_elements_with_separators_quotes_nulls_and_empties_edit_and_round_trip(pg_url):
    app = _app(pg_url)
    client = app.test_client()
    fields = dict(form_fields(client.get("/admin/tagged/edit/?id=2").get_data(as_text=True)))
    assert fields["tags"] == '["say \\"hi\\"", "back\\\\slash", null, "", " padded "]'
    assert fields["numbers"] == "[]"
    fields["tags"] = '["a,b", "c", null, "", "q\\"uote", "back\\\\slash", "{braces}"]'
    fields["numbers"] = "[1, null, 3]"
    assert client.post("/admin/tagged/edit/?id=2", data=fields).status_code == 302
    row = outside_sql(app, "SELECT tags, numbers, tags::text AS text FROM tagged WHERE id = 2")[0]
    assert row["tags"] == ["a,b", "c", None, "", 'q"uote', "back\\slash", "{braces}"]
    assert row["numbers"] == [1, None, 3]
    fields = dict(form_fields(client.get("/admin/tagged/edit/?id=1").get_data(as_text=True)))
    assert fields["tags"] == '["a,b", "c"]'  # {"a,b",c}: two elements, not three
    fields["numbers"] = '[1, "two"]'
    refused = client.post("/admin/tagged/edit/?id=1", data=fields).get_data(as_text=True)
    assert "every element must be whole numbers or null" in refused
    assert outside_sql(app, "SELECT tags::text AS t FROM tagged WHERE id = 1")[0]["t"] == '{"a,b",c}'
