"""An example hand-written screen for ``movies`` (the escape hatch).

Copy it into ``views/custom/`` and it replaces the generated movies screen, found
automatically; the ``[views.movies]`` entry of the declarative file still applies
on top of it (where both set the same thing, the file wins).
"""
from __future__ import annotations

from views.base import ReflectedModelView

__all__ = ["MovieView"]


def _runtime(view, context, model, name):
    minutes = model.runtime_minutes
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes else ""


class MovieView(ReflectedModelView):
    """Movies with a readable runtime and a description of the TMDB fields."""

    table = "movies"
    column_formatters = {"runtime_minutes": _runtime}
    column_descriptions = {
        "tmdb_id": "The Movie Database id; empty until the movie is matched",
        "tmdb_synced_at": "When the TMDB metadata was last refreshed",
    }
    column_default_sort = ("title", False)
