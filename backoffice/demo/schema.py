"""The demo catalog's schema: one definition, used by ``seed-demo`` and the tests.

The console itself never relies on this module to read a database: it reflects
whatever it is pointed at. Only ``seed-demo`` creates (and re-creates) these tables.
"""
from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    extract,
    func,
)

__all__ = ["demo_metadata", "DEMO_TABLES", "HEALTH_INDEXES"]

demo_metadata = MetaData()

movies = Table(
    "movies", demo_metadata,
    Column("id", Integer, primary_key=True),
    Column("tmdb_id", Integer, unique=True, nullable=True),
    Column("imdb_id", String(16), nullable=True),
    Column("title", String(300), nullable=False),
    Column("original_title", String(300)),
    Column("release_date", Date),
    Column("overview", Text),
    Column("poster_path", String(200)),
    Column("runtime_minutes", Integer, CheckConstraint("runtime_minutes IS NULL OR runtime_minutes > 0")),
    Column("original_language", String(8)),
    Column("tmdb_synced_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_movies_imdb_id", "imdb_id"),
    Index("ix_movies_release_date", "release_date"),
    Index("ix_movies_updated_at", "updated_at"),
)

people = Table(
    "people", demo_metadata,
    Column("id", Integer, primary_key=True),
    Column("tmdb_person_id", Integer, unique=True, nullable=True),
    Column("name", String(200), nullable=False),
)

movie_credits = Table(
    "movie_credits", demo_metadata,
    Column("id", Integer, primary_key=True),
    Column("movie_id", Integer, ForeignKey("movies.id", ondelete="CASCADE"), nullable=False),
    Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("credit_type", String(8), CheckConstraint("credit_type IN ('cast', 'crew')"), nullable=False),
    Column("job", String(40)),
    Column("character_name", String(200)),
    Column("billing_order", Integer),
    Index("ix_movie_credits_movie_id", "movie_id"),
    Index("ix_movie_credits_person_id", "person_id"),
)

genres = Table(
    "genres", demo_metadata,
    Column("id", Integer, primary_key=True),
    Column("tmdb_genre_id", Integer),
    Column("name", String(100), nullable=False),
)

movie_genres = Table(
    "movie_genres", demo_metadata,
    Column("movie_id", Integer, ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True),
    Column("genre_id", Integer, ForeignKey("genres.id"), primary_key=True),
    Index("ix_movie_genres_genre_id", "genre_id"),
)

keywords = Table(
    "keywords", demo_metadata,
    Column("id", Integer, primary_key=True),
    Column("tmdb_keyword_id", Integer),
    Column("name", String(100), nullable=False),
)

movie_keywords = Table(
    "movie_keywords", demo_metadata,
    Column("movie_id", Integer, ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True),
    Column("keyword_id", Integer, ForeignKey("keywords.id"), primary_key=True),
    Index("ix_movie_keywords_keyword_id", "keyword_id"),
)

tmdb_match_reviews = Table(
    "tmdb_match_reviews", demo_metadata,
    Column("id", Integer, primary_key=True),
    Column("movie_id", Integer, ForeignKey("movies.id", ondelete="CASCADE"), nullable=False),
    Column("candidate_tmdb_id", Integer, nullable=False),
    Column("candidate_title", String(300), nullable=False),
    Column("candidate_release_date", Date),
    Column("match_score", Float, CheckConstraint("match_score >= 0 AND match_score <= 1"), nullable=False),
    Column("match_reason", Text),
    Column("status", String(12),
           CheckConstraint("status IN ('pending', 'applied', 'rejected', 'deferred')"),
           nullable=False, server_default="pending"),
    Column("decided_by", String(100)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_tmdb_match_reviews_movie_id", "movie_id"),
    Index("ix_tmdb_match_reviews_status_score", "status", "match_score"),
)

# Indexes for the catalog-health checks (backoffice/catalog/). Real deployments
# want the same ones: the README lists them with the plans they enable.
# - a director / a cast credit per movie: partial indexes, a fraction of the full
#   movie_id index, read by an index-only merge anti-join;
# - duplicate titles: the exact expressions of the check's key, so PostgreSQL
#   reads the groups in order from the index instead of hashing a million titles.
Index("ix_movie_credits_director", movie_credits.c.movie_id,
      postgresql_where=movie_credits.c.job == "Director", sqlite_where=movie_credits.c.job == "Director")
Index("ix_movie_credits_cast", movie_credits.c.movie_id,
      postgresql_where=movie_credits.c.credit_type == "cast", sqlite_where=movie_credits.c.credit_type == "cast")
#   INCLUDE lets an index-only scan feed the GROUP BY (PostgreSQL will not read an
#   expression index "only" unless the columns it is computed from are in it too).
#   PostgreSQL only: SQLAlchemy cannot reflect SQLite expression indexes (it warns).
Index("ix_movies_title_year", func.lower(func.trim(movies.c.title)), extract("year", movies.c.release_date),
      postgresql_where=movies.c.release_date.is_not(None),
      postgresql_include=["title", "release_date"]).ddl_if(dialect="postgresql")

#: The names of the indexes above (the benchmark hides them to measure without).
HEALTH_INDEXES = ("ix_movie_credits_director", "ix_movie_credits_cast", "ix_movies_title_year")

#: Creation order (parents first); drop in reverse.
DEMO_TABLES = (movies, people, movie_credits, genres, movie_genres, keywords, movie_keywords, tmdb_match_reviews)
