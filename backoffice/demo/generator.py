"""Deterministic synthetic movie catalog with defects in known proportions.

:func:`generate` yields rows table by table from one ``random.Random(seed)``;
while it does, it tallies every planted defect by evaluating the catalog-health
definitions in plain Python over the rows it produced, so :class:`DefectCounts`
is exact for that seed and size (not an approximation from the proportions).

All timestamps are offsets from ``as_of`` (default: today, midnight UTC), so two
runs on the same day produce identical rows and staleness stays meaningful.
"""
from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

__all__ = ["DefectCounts", "DemoCatalog", "generate", "PROPORTIONS", "STALE_DAYS"]

#: The share of movies that get each planted defect.
PROPORTIONS = {
    "missing_overview": 0.08,
    "missing_poster": 0.06,
    "missing_release_date": 0.04,
    "missing_runtime": 0.05,
    "no_tmdb_id": 0.15,
    "never_synced": 0.10,  # of movies with a tmdb_id
    "stale_sync": 0.12,  # of movies with a tmdb_id
    "no_imdb_id": 0.08,
    "duplicate_imdb": 0.015,
    "duplicate_title_year": 0.02,
    "no_cast": 0.05,
    "no_director": 0.07,
    "no_genre": 0.04,
    "no_keyword": 0.10,
}
#: Fresh syncs are at most this old; stale ones at least STALE_DAYS + 20 days.
FRESH_DAYS = 90
STALE_DAYS = 180

_ADJECTIVES = (
    "Silent", "Crimson", "Hidden", "Last", "Broken", "Golden", "Midnight", "Lonely", "Burning", "Frozen",
    "Wild", "Electric", "Quiet", "Distant", "Savage", "Hollow", "Shining", "Lost", "Secret", "Endless",
    "Bitter", "Velvet", "Iron", "Glass", "Paper", "Northern", "Southern", "Restless", "Fading", "Rising",
)
_NOUNS = (
    "Harbor", "Empire", "River", "Garden", "Witness", "Horizon", "Stranger", "Kingdom", "Promise", "Signal",
    "Highway", "Orchard", "Lighthouse", "Frontier", "Mirror", "Winter", "Summer", "Station", "Island", "Letter",
    "Engine", "Shadow", "Canyon", "Circus", "Harvest", "Voyage", "Protocol", "Memory", "Tide", "Citadel",
)
_PATTERNS = ("The {a} {n}", "{a} {n}", "A {a} {n}", "{n} of the {a}")
_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Luis",
          "Maya", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tess", "Uma", "Viktor", "Wen", "Yara")
_LAST = ("Abbott", "Bauer", "Castro", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
         "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quist", "Rossi", "Silva", "Tanaka")
_GENRES = ((28, "Action"), (12, "Adventure"), (16, "Animation"), (35, "Comedy"), (80, "Crime"),
           (99, "Documentary"), (18, "Drama"), (10751, "Family"), (14, "Fantasy"), (36, "History"),
           (27, "Horror"), (10402, "Music"), (9648, "Mystery"), (10749, "Romance"), (878, "Science Fiction"),
           (10770, "TV Movie"), (53, "Thriller"), (10752, "War"), (37, "Western"))
_KEYWORD_WORDS = ("heist", "revenge", "small town", "time travel", "based on novel", "dystopia", "friendship",
                  "road trip", "coming of age", "space", "detective", "family secret", "survival", "robot",
                  "island", "war", "music", "sport", "wedding", "ghost")
_LANGUAGES = ("en", "en", "en", "fr", "de", "es", "ja", "ko", "it", "hi")
_CREW_JOBS = ("Writer", "Producer", "Composer", "Editor")
_TITLE_COMBOS = len(_PATTERNS) * len(_ADJECTIVES) * len(_NOUNS)


def _title(index: int) -> str:
    """A readable title, unique (after lower/trim) for every index."""
    combo, generation = index % _TITLE_COMBOS, index // _TITLE_COMBOS
    pattern = _PATTERNS[combo % len(_PATTERNS)]
    adjective = _ADJECTIVES[(combo // len(_PATTERNS)) % len(_ADJECTIVES)]
    noun = _NOUNS[combo // (len(_PATTERNS) * len(_ADJECTIVES))]
    title = pattern.format(a=adjective, n=noun)
    return title if generation == 0 else f"{title} {generation + 1}"


def normalise_title(title: str) -> str:
    """The normalisation the duplicate check uses: lower case, surrounding spaces removed."""
    return title.strip().lower()


@dataclass
class DefectCounts:
    """Exact numbers of affected movies per catalog-health definition."""

    movies: int = 0
    missing_overview: int = 0
    missing_poster: int = 0
    missing_release_date: int = 0
    missing_runtime: int = 0
    missing_any: int = 0
    duplicate_imdb_id_movies: int = 0
    duplicate_imdb_id_groups: int = 0
    duplicate_title_year_movies: int = 0
    duplicate_title_year_groups: int = 0
    duplicate_tmdb_id_movies: int = 0
    stale_tmdb: int = 0
    never_synced: int = 0
    no_cast: int = 0
    no_director: int = 0
    no_genre: int = 0
    no_keyword: int = 0
    reviews: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class DemoCatalog:
    """A generated catalog: row iterators per table (consume each once) and, once
    ``movies`` has been consumed, the exact defect counts."""

    size: int
    seed: int
    as_of: dt.datetime
    counts: DefectCounts = field(default_factory=DefectCounts)
    _movie_facts: list = field(default_factory=list, repr=False)


def generate(movies: int = 2000, seed: int = 42, as_of: dt.datetime | None = None):
    """Return ``(catalog, tables)``: ``tables`` is a list of ``(table_name, columns,
    row_iterator)`` in insertion order. Iterate them in that order."""
    if movies < 1:
        raise ValueError("the demo catalog needs at least one movie")
    if as_of is None:
        as_of = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    catalog = DemoCatalog(size=movies, seed=seed, as_of=as_of)
    rng = random.Random(seed)
    people_count = max(50, movies // 2)
    keyword_count = max(len(_KEYWORD_WORDS), min(2000, movies // 10))
    plan = _plan_movies(rng, movies, as_of, catalog)
    return catalog, [
        ("movies", _MOVIE_COLUMNS, iter(plan)),
        ("people", ("id", "tmdb_person_id", "name"), _people(random.Random(seed + 1), people_count)),
        ("genres", ("id", "tmdb_genre_id", "name"),
         iter([(i + 1, tmdb, name) for i, (tmdb, name) in enumerate(_GENRES)])),
        ("keywords", ("id", "tmdb_keyword_id", "name"), _keywords(keyword_count)),
        ("movie_credits", ("id", "movie_id", "person_id", "credit_type", "job", "character_name", "billing_order"),
         _credits(random.Random(seed + 2), catalog, people_count)),
        ("movie_genres", ("movie_id", "genre_id"), _links(random.Random(seed + 3), catalog, "no_genre", len(_GENRES), 1, 3)),
        ("movie_keywords", ("movie_id", "keyword_id"),
         _links(random.Random(seed + 4), catalog, "no_keyword", keyword_count, 1, 5)),
        ("tmdb_match_reviews", _REVIEW_COLUMNS, _reviews(random.Random(seed + 5), catalog)),
    ]


_MOVIE_COLUMNS = ("id", "tmdb_id", "imdb_id", "title", "original_title", "release_date", "overview", "poster_path",
                  "runtime_minutes", "original_language", "tmdb_synced_at", "created_at", "updated_at")
_REVIEW_COLUMNS = ("id", "movie_id", "candidate_tmdb_id", "candidate_title", "candidate_release_date",
                   "match_score", "match_reason", "status", "decided_by", "decided_at", "decision_note",
                   "created_at", "updated_at")


def _plan_movies(rng: random.Random, size: int, as_of: dt.datetime, catalog: DemoCatalog) -> list[tuple]:
    """Build every movie row and tally its defects (movies are needed by later tables)."""
    p = PROPORTIONS
    counts = catalog.counts
    rows: list[tuple] = []
    imdb_groups: Counter = Counter()
    title_groups: Counter = Counter()
    facts = catalog._movie_facts
    for index in range(size):
        movie_id = index + 1
        title = _title(index)
        release = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(27000))
        imdb_id = None if rng.random() < p["no_imdb_id"] else f"tt{1000000 + movie_id * 3:07d}"
        if index > 0 and rng.random() < p["duplicate_title_year"]:
            earlier = rows[rng.randrange(index)]
            if earlier[5] is not None:
                variant = rng.choice((str.upper, str.lower, lambda t: f"  {t} ", lambda t: t))
                title = variant(earlier[3])
                release = earlier[5].replace(day=1) + dt.timedelta(days=rng.randrange(28))
        if index > 0 and rng.random() < p["duplicate_imdb"]:
            imdb_id = rows[rng.randrange(index)][2] or imdb_id
        if rng.random() < p["missing_release_date"]:
            release = None
        overview = None if rng.random() < p["missing_overview"] else f"{title.strip()}: a story told in {rng.randrange(2, 9)} acts."
        poster = None if rng.random() < p["missing_poster"] else f"/p{movie_id:07d}.jpg"
        runtime = None if rng.random() < p["missing_runtime"] else rng.randrange(70, 200)
        tmdb_id = None if rng.random() < p["no_tmdb_id"] else 100000 + movie_id * 7
        synced = None
        if tmdb_id is not None:
            roll = rng.random()
            if roll < p["never_synced"]:
                synced = None
            elif roll < p["never_synced"] + p["stale_sync"]:
                synced = as_of - dt.timedelta(days=rng.randrange(STALE_DAYS + 20, 1500), seconds=rng.randrange(86400))
            else:
                synced = as_of - dt.timedelta(days=rng.randrange(FRESH_DAYS), seconds=rng.randrange(86400))
        created = as_of - dt.timedelta(days=rng.randrange(1500, 3000))
        updated = created + dt.timedelta(days=rng.randrange(1500))
        rows.append((movie_id, tmdb_id, imdb_id, title, title.strip(), release, overview, poster, runtime,
                     rng.choice(_LANGUAGES), synced, created, updated))
        flags = {name: rng.random() < p[name] for name in ("no_cast", "no_director", "no_genre", "no_keyword")}
        facts.append((tmdb_id, flags))

        counts.movies += 1
        counts.missing_overview += overview is None
        counts.missing_poster += poster is None
        counts.missing_release_date += release is None
        counts.missing_runtime += runtime is None
        counts.missing_any += overview is None or poster is None or release is None or runtime is None
        if tmdb_id is not None:
            counts.never_synced += synced is None
            counts.stale_tmdb += synced is None or synced < as_of - dt.timedelta(days=STALE_DAYS)
        for name, missing in flags.items():
            setattr(counts, name, getattr(counts, name) + missing)
        if imdb_id is not None:
            imdb_groups[imdb_id] += 1
        if release is not None:
            title_groups[(normalise_title(title), release.year)] += 1
    counts.duplicate_imdb_id_groups = sum(1 for n in imdb_groups.values() if n > 1)
    counts.duplicate_imdb_id_movies = sum(n for n in imdb_groups.values() if n > 1)
    counts.duplicate_title_year_groups = sum(1 for n in title_groups.values() if n > 1)
    counts.duplicate_title_year_movies = sum(n for n in title_groups.values() if n > 1)
    return rows


def _people(rng: random.Random, count: int) -> Iterator[tuple]:
    for person_id in range(1, count + 1):
        tmdb = None if rng.random() < 0.05 else 500000 + person_id
        yield (person_id, tmdb, f"{rng.choice(_FIRST)} {rng.choice(_LAST)}")


def _keywords(count: int) -> Iterator[tuple]:
    for keyword_id in range(1, count + 1):
        word = _KEYWORD_WORDS[(keyword_id - 1) % len(_KEYWORD_WORDS)]
        generation = (keyword_id - 1) // len(_KEYWORD_WORDS)
        yield (keyword_id, 9000 + keyword_id, word if generation == 0 else f"{word} {generation + 1}")


def _credits(rng: random.Random, catalog: DemoCatalog, people_count: int) -> Iterator[tuple]:
    credit_id = 0
    for movie_id, (_tmdb, flags) in enumerate(catalog._movie_facts, start=1):
        if not flags["no_director"]:
            credit_id += 1
            yield (credit_id, movie_id, rng.randrange(1, people_count + 1), "crew", "Director", None, None)
        if rng.random() < 0.5:
            credit_id += 1
            yield (credit_id, movie_id, rng.randrange(1, people_count + 1), "crew", rng.choice(_CREW_JOBS), None, None)
        if not flags["no_cast"]:
            for order in range(rng.randrange(2, 6)):
                credit_id += 1
                yield (credit_id, movie_id, rng.randrange(1, people_count + 1), "cast", "Actor",
                       f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", order)


def _links(rng: random.Random, catalog: DemoCatalog, flag: str, target_count: int, low: int, high: int):
    for movie_id, (_tmdb, flags) in enumerate(catalog._movie_facts, start=1):
        if flags[flag]:
            continue
        for target in sorted(rng.sample(range(1, target_count + 1), rng.randrange(low, high + 1))):
            yield (movie_id, target)


def _reviews(rng: random.Random, catalog: DemoCatalog) -> Iterator[tuple]:
    """Match reviews: mostly for movies without a tmdb_id, some conflicting on purpose."""
    facts = catalog._movie_facts
    size = len(facts)
    wanted = max(20, size * 3 // 20)
    statuses = Counter()
    review_id = 0
    for _ in range(wanted):
        movie_id = rng.randrange(1, size + 1)
        tmdb_id = facts[movie_id - 1][0]
        roll = rng.random()
        if tmdb_id is not None and roll < 0.15:
            status, candidate = "applied", tmdb_id
        elif roll < 0.25:
            status, candidate = "rejected", 9_000_000 + rng.randrange(1_000_000)
        elif roll < 0.40:
            status, candidate = "deferred", 8_000_000 + movie_id
        else:
            status = "pending"
            other = rng.randrange(1, size + 1)
            conflict = facts[other - 1][0]
            # ~1 in 30 proposes a tmdb_id another movie already holds (conflict on apply)
            candidate = conflict if conflict is not None and other != movie_id and rng.random() < 0.033 \
                else 8_000_000 + movie_id * 3 + rng.randrange(3)
        review_id += 1
        statuses[status] += 1
        created = catalog.as_of - dt.timedelta(days=rng.randrange(0, 120), seconds=rng.randrange(86400))
        decided = created + dt.timedelta(days=rng.randrange(0, 10)) if status in ("applied", "rejected") else None
        score = round(rng.uniform(0.35, 0.99), 3)
        yield (review_id, movie_id, candidate, _title(movie_id - 1), dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(27000)),
               score, rng.choice(("title and year match", "title match, year off by one", "original title match",
                                  "imdb cross-reference", "fuzzy title match")),
               status, "seed" if decided else None, decided,
               "decided during import" if decided else None, created, decided or created)
    catalog.counts.reviews = dict(statuses)
