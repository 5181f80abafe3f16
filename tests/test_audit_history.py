"""The audit history screen, its CSV export, the History link, and declaratively registered hooks."""
from __future__ import annotations

import csv
import io
import json
import logging

import pytest

from audit_hooks import audit_action
from audit_hooks.loading import check_hook_paths
from backoffice.core.declarations import DeclarationError, load_declarations
from backoffice.core.settings import SettingsError
from views.cells import csv_text

from tests.conftest import csrf_token


def _edit_genre(app, genre_id, name, action="catalog.rename", reason=None):
    Genre = app.extensions["backoffice.reflection"].tables["genres"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        with audit_action(action, reason=reason):
            db.session.get(Genre, genre_id).name = name
        db.session.commit()


def test_history_lists_newest_first_with_a_readable_diff_and_filters(app, client):
    _edit_genre(app, 1, "First name", reason="typo in the label")
    _edit_genre(app, 2, "Second name", action="catalog.merge", reason="merged duplicates")
    html = client.get("/admin/audit/").get_data(as_text=True)
    assert html.index('id="event-2"') < html.index('id="event-1"')
    assert "First name" in html and "Second name" in html and "catalog.merge" in html
    assert 'class="backoffice-new">First name<' in html

    filtered = client.get("/admin/audit/?action=catalog.merge").get_data(as_text=True)
    assert 'id="event-2"' in filtered and 'id="event-1"' not in filtered
    by_entity = client.get("/admin/audit/?table=genres&entity=1").get_data(as_text=True)
    assert 'id="event-1"' in by_entity and 'id="event-2"' not in by_entity
    by_reason = client.get("/admin/audit/?q=TYPO").get_data(as_text=True)
    assert 'id="event-1"' in by_reason and 'id="event-2"' not in by_reason
    assert 'id="event-1"' not in client.get("/admin/audit/?actor=someone-else").get_data(as_text=True)
    assert 'id="event-1"' not in client.get("/admin/audit/?from=2999-01-01").get_data(as_text=True)
    assert 'id="event-1"' in client.get("/admin/audit/?from=2000-01-01&to=2999-12-31").get_data(as_text=True)
    bad_date = client.get("/admin/audit/?from=yesterday")
    assert bad_date.status_code == 200 and "must be a date like" in bad_date.get_data(as_text=True)


def test_history_is_read_only_and_not_a_generic_screen(client):
    assert client.post("/admin/audit/").status_code == 404  # a method it does not take is a missing page
    assert client.get("/admin/backoffice_audit_events/").status_code == 404
    assert client.get("/admin/audit/new/").status_code == 404
    assert 'href="/admin/audit/"' in client.get("/admin/").get_data(as_text=True)


def test_detail_page_links_to_the_records_history(app, client):
    _edit_genre(app, 3, "Linked")
    html = client.get("/admin/genres/details/?id=3").get_data(as_text=True)
    assert 'href="/admin/audit/?table=genres&amp;entity=3"' in html
    history = client.get("/admin/audit/?table=genres&entity=3").get_data(as_text=True)
    assert "Linked" in history


def test_detail_page_delete_form_carries_the_reason(make_app):
    app = make_app(BACKOFFICE_AUDIT_HOOKS="audit_hooks.examples:require_delete_reason")
    client = app.test_client()
    Keyword = app.extensions["backoffice.reflection"].tables["keywords"].model
    with app.app_context():
        db = app.extensions["backoffice.db"]
        keyword = Keyword(name="to delete")
        db.session.add(keyword)
        db.session.commit()
        keyword_id = keyword.id
    html = client.get(f"/admin/keywords/details/?id={keyword_id}").get_data(as_text=True)
    assert 'name="audit_reason"' in html
    token = csrf_token(client, f"/admin/keywords/details/?id={keyword_id}")
    refused = client.post("/admin/keywords/delete/", data={"csrf_token": token, "id": keyword_id},
                          follow_redirects=True)
    assert "A reason is required to delete rows of keywords" in refused.get_data(as_text=True)
    done = client.post("/admin/keywords/delete/", data={"csrf_token": token, "id": keyword_id,
                                                       "audit_reason": "spam"}, follow_redirects=True)
    assert "Deleted 1 row from keywords: " in done.get_data(as_text=True)
    assert "spam" in client.get(f"/admin/audit/?table=keywords&entity={keyword_id}").get_data(as_text=True)


def test_csv_export_streams_every_matching_event_and_neutralises_formulas(app, client):
    _edit_genre(app, 1, "=HYPERLINK(\"http://evil\")", reason="@risky")
    _edit_genre(app, 2, "Plain", reason="-2")
    response = client.get("/admin/audit/export.csv?table=genres")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["entity_id"] for r in rows] == ["2", "1"]
    assert rows[1]["reason"] == "'@risky" and rows[0]["reason"] == "-2"  # a plain number is no formula
    assert json.loads(rows[1]["changes"])["new"]["name"].startswith("=HYPERLINK")
    assert csv_text("+1+A1") == "'+1+A1" and csv_text("+1") == "+1" and csv_text("ok") == "ok" and csv_text(None) == ""


def test_declared_hooks_with_bad_paths_are_reported_with_ids(tmp_path, make_app):
    config = tmp_path / "backoffice.toml"
    config.write_text('[hooks]\naudit = ["no_such_package.mod:hook", "audit_hooks.examples:require_reason", '
                      '"audit_hooks.examples:AuditVeto", "audit_hooks.examples:require_delete_reason"]\n')
    problems = list(check_hook_paths(load_declarations(config), None))
    assert [str(p) for p in problems] == [
        f"{config}: hooks.audit[0]: cannot import 'no_such_package.mod:hook': No module named 'no_such_package'; "
        "write it as 'package.module:function' and check the package is installed [backoffice.E090]",
        f"{config}: hooks.audit[1]: cannot import 'audit_hooks.examples:require_reason': module "
        "'audit_hooks.examples' has no attribute 'require_reason'; did you mean 'require_delete_reason'? "
        "[backoffice.E090]",
        f"{config}: hooks.audit[2]: 'audit_hooks.examples:AuditVeto' is a type, not an audit hook; name a function "
        "taking (changeset), or an object with @hookimpl methods (audit_changeset, audit_committed) "
        "[backoffice.E091]",
    ]
    with pytest.raises(DeclarationError, match="backoffice.E090"):
        make_app(BACKOFFICE_CONFIG=str(config))


def test_bad_hook_setting_stops_start_up_naming_the_variable(make_app):
    with pytest.raises(SettingsError, match="BACKOFFICE_AUDIT_HOOKS='audit_hooks.nope:x' is not valid"):
        make_app(BACKOFFICE_AUDIT_HOOKS="audit_hooks.nope:x")


def test_declared_log_hook_emits_one_structured_line_per_committed_change_set(tmp_path, make_app, caplog):
    config = tmp_path / "backoffice.toml"
    config.write_text('[hooks]\naudit = ["audit_hooks.examples:log_changeset"]\n')
    app = make_app(BACKOFFICE_CONFIG=str(config))
    with caplog.at_level(logging.INFO, logger="backoffice.audit"):
        _edit_genre(app, 1, "Logged", reason="for the log")
    [record] = [r for r in caplog.records if r.name == "backoffice.audit"]
    assert record.audit["action"] == "catalog.rename" and record.audit["reason"] == "for the log"
    assert record.audit["rows"][0]["new"] == {"name": "Logged"}


def test_a_viewer_neither_sees_the_history_nor_its_link(app):
    from flask import g

    from backoffice.core.access import Operator

    @app.before_request
    def _as_viewer():
        g.operator = Operator("vera", "viewer")

    client = app.test_client()
    assert client.get("/admin/audit/").status_code == 404
    assert client.get("/admin/audit/export.csv").status_code == 404
    details = client.get("/admin/genres/details/?id=1")
    assert details.status_code == 200 and "History of this record" not in details.get_data(as_text=True)
