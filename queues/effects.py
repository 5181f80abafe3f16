"""Effects of review-queue actions: Python functions a queue declaration names.

An effect receives an :class:`~queues.runner.EffectContext` and changes rows
through ``ctx.session`` inside the action's transaction, so the audit hooks see
its changes in the same change set. It refuses with ``ctx.refuse(message)``.
An optional ``preview`` attribute returns the changes shown before confirming.
"""
from __future__ import annotations

from sqlalchemy import select

from queues.spec import Change

__all__ = ["apply_tmdb_match"]


def _holder(ctx, movies, candidate):
    """Another movie that already carries ``candidate`` as its tmdb_id, if any."""
    return ctx.session.execute(
        select(movies).where(movies.tmdb_id == candidate, movies.id != ctx.subject.id).limit(1)
    ).scalars().first()


def _check(ctx):
    if ctx.subject is None:
        ctx.refuse("the movie of this review no longer exists")
    movies = ctx.model("movies")
    candidate = ctx.row.candidate_tmdb_id
    holder = _holder(ctx, movies, candidate)
    if holder is not None:
        ctx.refuse(f"TMDB id {candidate} already belongs to movie #{holder.id} \u201c{holder.title}\u201d")
    return movies, candidate


def apply_tmdb_match(ctx) -> None:
    """Set the movie's tmdb_id to the candidate; close its other pending reviews.

    Refused when another movie already holds that tmdb_id.
    """
    _movies, candidate = _check(ctx)
    movie = ctx.subject
    movie.tmdb_id = candidate
    movie.updated_at = ctx.now
    reviews = ctx.model(ctx.queue.table)
    others = ctx.session.execute(
        select(reviews).where(reviews.movie_id == movie.id, reviews.id != ctx.row.id,
                              reviews.status == "pending").with_for_update()
    ).scalars().all()
    for other in others:
        other.status = "rejected"
        other.decided_by = ctx.operator.username
        other.decided_at = ctx.now
        other.decision_note = f"superseded: review #{ctx.row.id} was applied"
        other.updated_at = ctx.now


def _preview(ctx):
    _movies, candidate = _check(ctx)
    movie = ctx.subject
    changes = [Change(f"movie #{movie.id} tmdb_id", movie.tmdb_id, candidate)]
    reviews = ctx.model(ctx.queue.table)
    others = ctx.session.execute(
        select(reviews.id).where(reviews.movie_id == movie.id, reviews.id != ctx.row.id, reviews.status == "pending")
    ).scalars().all()
    changes.extend(Change(f"review #{other} status", "pending", "rejected (superseded)") for other in others)
    return changes


apply_tmdb_match.preview = _preview
