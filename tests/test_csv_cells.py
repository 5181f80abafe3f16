"""One formula-safe rule for every CSV export: the same hostile values come out the same way
from the generic screens' export, the audit export and the catalog-health export."""
from __future__ import annotations

import csv
import datetime as dt
import io

from views.cells import csv_text, formula_safe

from tests.conftest import csrf_token, outside_sql

STAMPS = {"created_at": "2024-01-01 00:00:00", "updated_at": "2024-01-01 00:00:00"}

#: value planted -> the cell a spreadsheet must receive
HOSTILE = {
    "-3": "-3",                    # a plain number: left alone
    "+1": "+1",                    # a plain number with its sign
    "=1+1": "'=1+1",
    "@SUM(A1)": "'@SUM(A1)",
    "\tcmd|' /C calc'!A0": "'\tcmd|' /C calc'!A0",
    "-3+A1": "'-3+A1",             # starts like a number, is a formula
}


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _assert_exported_safely(cells: list[str], name: str, values=HOSTILE) -> None:
    for planted, expected in values.items():
        assert expected in cells, (name, planted)
        if expected != planted:
            assert planted not in cells, (name, planted)  # never also as a live formula


def test_the_rule_itself():
    for planted, expected in HOSTILE.items():
        assert formula_safe(planted) == expected
        assert csv_text(planted) == expected
    # numbers stay numbers, whatever their sign; other values are untouched
    assert formula_safe(-3) == -3 and formula_safe(-2.5) == -2.5 and formula_safe(None) is None
    assert csv_text(-3) == "-3" and csv_text(None) == "" and csv_text("+1.5e3") == "+1.5e3"
    assert csv_text(dt.datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05"
    assert csv_text({"new": {"title": "=1+1"}}) == '{"new": {"title": "=1+1"}}'  # JSON starts with {
    assert formula_safe("\rnote") == "'\rnote" and formula_safe("plain") == "plain"


def test_every_export_writes_the_same_hostile_values_the_same_way(make_app):
    app = make_app()
    client = app.test_client()
    # Movies without an overview appear in the generic export and the catalog-health export.
    movies = [r["id"] for r in outside_sql(app, "SELECT id FROM movies WHERE overview IS NULL ORDER BY id LIMIT :n",
                                           n=len(HOSTILE))]
    assert len(movies) == len(HOSTILE)
    for key, planted in zip(movies, HOSTILE):
        outside_sql(app, "UPDATE movies SET title = :t WHERE id = :i", t=planted, i=key)
    # The audit trail records each operator's reason as typed.
    for planted in HOSTILE:
        token = csrf_token(client, "/admin/genres/new/")
        created = client.post("/admin/genres/new/", data={"csrf_token": token, "name": "csv case",
                                                          "tmdb_genre_id": "9300", "audit_reason": planted})
        assert created.status_code == 302

    exports = {"screen": "/admin/movies/export/csv/", "audit": "/admin/audit/export.csv",
               "catalog health": "/admin/catalog-health/check/missing_overview/csv"}
    # A reason is stored stripped, so no audited reason can start with a tab.
    typed = {"audit": {k: v for k, v in HOSTILE.items() if not k.startswith("\t")}}
    for name, url in exports.items():
        response = client.get(url)
        assert response.status_code == 200, name
        _assert_exported_safely(_cells(response.get_data(as_text=True)), name, typed.get(name, HOSTILE))
