"""The columns a list shows when nobody chose them (issue 19, item 2).

Against a real SQLite table of every awkward kind: the label column first, short typed
columns after it in table order, at most eight; long text, JSON, arrays and binary only
on the details page, which keeps every column.
"""
from __future__ import annotations

from sqlalchemy import create_engine, text

from models.reflection import reflect
from views.presentation import LIST_COLUMN_LIMIT, default_list_columns
from views.columns import column_plans

WIDE = """CREATE TABLE wide (
    id INTEGER PRIMARY KEY, notes TEXT, payload JSON, picture BLOB, created DATE, code VARCHAR(12),
    blurb VARCHAR(2000), name VARCHAR(80), owner_id INTEGER REFERENCES owner(id), active BOOLEAN,
    price NUMERIC(8, 2), seen_at DATETIME, weight REAL, rank INTEGER, extra_a INTEGER, extra_b DATE)"""


def _entries(tmp_path, *ddl):
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE owner (id INTEGER PRIMARY KEY, label TEXT)"))
        for statement in ddl:
            connection.execute(text(statement))
    reflection = reflect(engine)
    engine.dispose()
    return {name: entry for name, entry in reflection.tables.items()}


def _chosen(entry):
    return default_list_columns(column_plans(entry), entry, entry.model.__label_keys__)


def test_label_first_then_short_typed_columns_in_table_order_at_most_eight(tmp_path):
    wide = _entries(tmp_path, WIDE)["wide"]
    chosen = _chosen(wide)
    assert chosen == ["name", "id", "created", "code", "owner_id", "active", "price", "seen_at"]
    assert len(chosen) == LIST_COLUMN_LIMIT
    for long_kind in ("notes", "payload", "picture", "blurb"):
        assert long_kind not in chosen


def test_a_table_of_long_text_only_still_shows_a_recognisable_row(tmp_path):
    essays = _entries(tmp_path, "CREATE TABLE essays (body TEXT, title TEXT, id INTEGER PRIMARY KEY)")["essays"]
    chosen = _chosen(essays)
    assert chosen[0] == "title" and "id" in chosen and len(chosen) <= LIST_COLUMN_LIMIT


def test_the_generated_screen_lists_the_rule_and_details_every_column(tmp_path):
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from views.base import view_for

    wide = _entries(tmp_path, WIDE)["wide"]
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'db.sqlite'}"
    db = SQLAlchemy(app)
    with app.app_context():
        view = view_for(wide, "wide", db)
        assert [name for name, _ in view.get_list_columns()] == _chosen(wide)
        assert {name for name, _ in view.get_details_columns()} == {c.key for c in wide.table.columns}
