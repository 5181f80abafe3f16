"""Foreign keys on a cycle (models/cycles.py) against the definition itself: an edge a -> b
lies on a cycle exactly when a can be reached from b."""
from __future__ import annotations

import random

from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

from models.cycles import edges_on_cycles


def _reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for child in edges.get(node, ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _schema(rng: random.Random, tables: int, keys: int) -> tuple[MetaData, dict[str, set[str]]]:
    metadata, edges = MetaData(), {}
    names = [f"t{i}" for i in range(tables)]
    links = {name: sorted({rng.choice(names) for _ in range(rng.randint(0, keys))}) for name in names}
    for name in names:
        Table(name, metadata, Column("id", Integer, primary_key=True),
              *[Column(f"{target}_id", Integer, ForeignKey(f"{target}.id")) for target in links[name]])
        edges[name] = set(links[name])
    return metadata, edges


def test_an_edge_is_on_a_cycle_exactly_when_its_start_is_reachable_from_its_end():
    rng = random.Random(22)
    for _ in range(200):
        metadata, edges = _schema(rng, rng.randint(1, 25), rng.randint(0, 3))
        expected = {(a, b) for a, targets in edges.items() for b in targets if a in _reachable(edges, b) or a == b}
        assert edges_on_cycles(metadata) == expected


def test_a_long_chain_has_no_cycle_until_its_end_points_back():
    metadata = MetaData()
    Table("t0", metadata, Column("id", Integer, primary_key=True))
    for i in range(1, 500):
        Table(f"t{i}", metadata, Column("id", Integer, primary_key=True),
              Column("up", Integer, ForeignKey(f"t{i - 1}.id")))
    assert edges_on_cycles(metadata) == set()
    metadata.tables["t0"].append_column(Column("back", Integer, ForeignKey("t499.id")))
    assert len(edges_on_cycles(metadata)) == 500  # every link of the ring
