"""Each library private name the console relies on (backoffice/core/internals.py) still works."""
from __future__ import annotations

# -- audit pipeline: session_is_flushing, update_values --------------------------------------

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, delete, event, update
from sqlalchemy.orm import Session, registry

from backoffice.core.internals import session_is_flushing, update_values


def test_session_is_flushing_is_true_only_inside_a_flush():
    metadata = MetaData()
    table = Table("t", metadata, Column("id", Integer, primary_key=True), Column("name", String))

    class Row:
        pass

    registry().map_imperatively(Row, table)
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    seen = []
    with Session(engine) as session:
        event.listen(session, "before_flush", lambda s, *_: seen.append(session_is_flushing(s)))
        event.listen(session, "after_flush", lambda s, *_: seen.append(session_is_flushing(s)))
        assert session_is_flushing(session) is False
        row = Row()
        row.name = "x"
        session.add(row)
        session.flush()
        assert session_is_flushing(session) is False
    engine.dispose()
    assert seen == [True, True]


def test_update_values_gives_the_set_clause_of_an_update():
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("name", String))
    values = update_values(update(table).where(table.c.id == 1).values(name="n", id=2))
    assert {getattr(k, "key", k) for k in values} == {"name", "id"}
    assert update_values(delete(table).where(table.c.id == 1)) == {}
