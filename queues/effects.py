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


def _open_siblings(ctx, reviews):
    # every state the queue considers open (pending AND deferred), not just pending: a
    # deferred sibling left open could be applied later and take the movie over again
    return reviews.movie_id == ctx.subject.id, reviews.id != ctx.row.id, reviews.status.in_(ctx.queue.open_states)


def apply_tmdb_match(ctx) -> None:
    """Set the movie's tmdb_id to the candidate; close its other open reviews (pending,
    deferred: the queue's open states) as superseded.

    Refused when another movie already holds that tmdb_id. The runner has already
    locked the movie and all its reviews (docs/audit-integrity.md, lock order).
    """
    _movies, candidate = _check(ctx)
    movie = ctx.subject
    movie.tmdb_id = candidate
    movie.updated_at = ctx.now
    reviews = ctx.model(ctx.queue.table)
    others = ctx.session.execute(
        select(reviews).where(*_open_siblings(ctx, reviews)).order_by(reviews.id).with_for_update()
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
        select(reviews.id, reviews.status).where(*_open_siblings(ctx, reviews)).order_by(reviews.id)).all()
    changes.extend(Change(f"review #{other} status", state, "rejected (superseded)") for other, state in others)
    return changes


apply_tmdb_match.preview = _preview
#: Columns this effect changes, by table role ("subject" = the queue's subject table):
#: the generic screens show them read-only and only queue actions may change them.
apply_tmdb_match.owns = {"subject": ("tmdb_id",)}
