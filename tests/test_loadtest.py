"""The load test, short: gunicorn with 2 workers, 4 clients for 8 seconds, on PostgreSQL.

How many requests a run gets through depends on the machine: only what happened to
them is asserted here (``python -m benchmarks.loadtest`` prints the figures)."""
import pytest

from benchmarks import loadtest


@pytest.mark.postgres
@pytest.mark.slow
def test_short_load_has_no_5xx_and_every_decision_audited_once(pg_demo_url):
    wrk = 2 if loadtest.wrk_available() else 0  # .ci/run installs wrk
    result = loadtest.run_load(pg_demo_url, duration=8, clients=4 + wrk, wrk_connections=wrk)
    print(result.report())
    if wrk:
        assert result.wrk["requests"] > 0 and result.wrk["5xx"] == 0 and result.wrk["socket_errors"] == 0
    assert result.ok, result.report()
    assert result.server_errors == 0 and not result.errors
    assert result.requests > 0
    # the run exercised every group, review decisions included
    assert {"list", "search", "catalog-health", "healthz", "review-execute"} <= set(result.samples)
    assert sum(1 for e in result.executes if e.done) > 0
    assert not result.audit_problems


def test_audit_check_catches_a_missing_and_an_extra_event(sqlite_demo_url):
    """The verdict is not a tautology: a decision without its audit row, and a skip with
    one, are both reported."""
    from sqlalchemy import create_engine, text

    engine = create_engine(sqlite_demo_url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO backoffice_audit_events (occurred_at, actor, actor_role, action, entity_type, entity_id, "
            "changes, request_id, prev_hash, row_hash) VALUES (CURRENT_TIMESTAMP, 'x', 'admin', 'reject', "
            "'tmdb_match_reviews', '7', '{}', 'skipped-req', '', '')"))
    engine.dispose()
    result = loadtest.LoadResult()
    result.executes = [loadtest.Execute(5, "decided-req", 1), loadtest.Execute(7, "skipped-req", 0)]
    loadtest._check_audit(sqlite_demo_url, result)
    assert len(result.audit_problems) == 2
    assert "review 5 decided by decided-req: 0 audit events" in result.audit_problems[0]
    assert "review 7 skipped by skipped-req" in result.audit_problems[1]
    assert not result.ok
