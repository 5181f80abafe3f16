"""The demo generator: deterministic, and its reported defect counts are exact."""
import datetime as dt

from sqlalchemy import create_engine, text

from backoffice.demo import generate
from backoffice.core.settings import normalise_database_url


def _materialise(movies, seed, as_of):
    catalog, tables = generate(movies=movies, seed=seed, as_of=as_of)
    return catalog, {name: list(rows) for name, _cols, rows in tables}


def test_same_seed_same_catalog_different_seed_different_catalog():
    as_of = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    first, rows1 = _materialise(300, 7, as_of)
    second, rows2 = _materialise(300, 7, as_of)
    third, rows3 = _materialise(300, 8, as_of)
    assert rows1 == rows2 and first.counts == second.counts
    assert rows1["movies"] != rows3["movies"]


def test_defects_are_planted_in_the_documented_proportions():
    catalog, rows = _materialise(20000, 1, None)
    counts = catalog.counts
    assert counts.movies == 20000
    for name, share in (("missing_overview", 0.08), ("missing_poster", 0.06), ("no_cast", 0.05),
                        ("no_director", 0.07), ("no_genre", 0.04), ("no_keyword", 0.10)):
        assert abs(getattr(counts, name) / 20000 - share) < 0.01, name
    assert counts.duplicate_imdb_id_groups > 100 and counts.duplicate_title_year_groups > 100
    assert counts.missing_any > counts.missing_overview
    assert set(counts.reviews) == {"pending", "deferred", "applied", "rejected"}
    credits_per_movie = len(rows["movie_credits"]) / 20000
    assert 4.5 < credits_per_movie < 5.5


def test_reported_counts_match_the_seeded_database(db_url, demo_counts):
    engine = create_engine(normalise_database_url(db_url))
    year = "CAST(strftime('%Y', release_date) AS INTEGER)" if engine.dialect.name == "sqlite" \
        else "EXTRACT(YEAR FROM release_date)"
    queries = {
        "movies": "SELECT count(*) FROM movies",
        "missing_overview": "SELECT count(*) FROM movies WHERE overview IS NULL",
        "missing_any": "SELECT count(*) FROM movies WHERE overview IS NULL OR poster_path IS NULL "
                       "OR release_date IS NULL OR runtime_minutes IS NULL",
        "no_director": "SELECT count(*) FROM movies m WHERE NOT EXISTS (SELECT 1 FROM movie_credits c "
                       "WHERE c.movie_id = m.id AND c.job = 'Director')",
        "no_genre": "SELECT count(*) FROM movies m WHERE NOT EXISTS "
                    "(SELECT 1 FROM movie_genres g WHERE g.movie_id = m.id)",
        "duplicate_imdb_id_movies": "SELECT coalesce(sum(n), 0) FROM (SELECT count(*) n FROM movies "
                                    "WHERE imdb_id IS NOT NULL GROUP BY imdb_id HAVING count(*) > 1) d",
        "duplicate_title_year_movies": f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) n FROM movies "
                                       f"WHERE release_date IS NOT NULL GROUP BY lower(trim(title)), {year} "
                                       f"HAVING count(*) > 1) d",
    }
    with engine.connect() as conn:
        for name, sql in queries.items():
            assert conn.execute(text(sql)).scalar() == getattr(demo_counts, name), name
        pending = conn.execute(text("SELECT count(*) FROM tmdb_match_reviews WHERE status = 'pending'")).scalar()
    assert pending == demo_counts.reviews["pending"]
    engine.dispose()


def test_every_declared_index_exists_after_seeding(db_url):
    from sqlalchemy import inspect

    from backoffice.demo.schema import DEMO_TABLES

    engine = create_engine(normalise_database_url(db_url))
    inspector = inspect(engine)
    for table in DEMO_TABLES:
        present = {ix["name"] for ix in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if engine.dialect.name == "sqlite" and index.name == "ix_movies_title_year":
                continue  # PostgreSQL only (an expression index)
            assert index.name in present, (table.name, index.name)
    engine.dispose()
