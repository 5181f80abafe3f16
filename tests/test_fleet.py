"""Two console instances (gunicorn, three workers each) behind a real nginx, sharing one
PostgreSQL and one Redis, TRUSTED_PROXY_COUNT=1: what must hold when the console runs
as a fleet. Every request goes through the proxy unless a test says otherwise."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest

from tests.fleet_support import Browser, Instance, Proxy, Tally, nginx_or_skip
from testing_support.ports import free_port
from tests.redis_server import RedisServer, redis_or_skip
from tests.reflection_walk import form_fields

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

OPERATOR = ("ann", "fleet operator password")
TOKEN = "fleet-metrics-token-0123456789"
FAILURE_LIMIT = 5
QUEUE = "/admin/review-queue/"


class Fleet:
    def __init__(self, proxy: Proxy, instances: list[Instance], database_url: str, env: dict, tally: Tally):
        """The proxy, the instances behind it, their database and environment, and the tally."""
        self.proxy, self.instances, self.database_url, self.env, self.tally = proxy, instances, database_url, env, tally

    def browser(self, credentials=OPERATOR, source="127.0.0.1") -> Browser:
        return Browser(self.proxy.port, credentials, source, self.tally)

    def sql(self, sql: str, **params):
        conn = psycopg2.connect(self.database_url.replace("postgresql://", "postgres://"))
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else None
        finally:
            conn.close()


@pytest.fixture(scope="module")
def fleet(pg_server, pg_demo_template, tmp_path_factory):
    nginx = nginx_or_skip()
    redis = RedisServer.start(redis_or_skip())
    name = f"fleet_{uuid.uuid4().hex[:10]}"
    database_url = pg_server.create_database(name, template=pg_demo_template[0])
    logs = tmp_path_factory.mktemp("fleet")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "OPERATOR_", "PORT", "BACKOFFICE_", "RATELIMIT_", "REDIS_",
                                "PROMETHEUS_", "AUDIT_"))}
    env.update(DATABASE_URL=database_url, SECRET_KEY="fleet-shared-secret-key", LOG_LEVEL="WARNING",
               RATELIMIT_STORAGE_URI=redis.url, TRUSTED_PROXY_COUNT="1",
               OPERATOR_AUTH_USERNAME=OPERATOR[0], OPERATOR_AUTH_PASSWORD=OPERATOR[1],
               OPERATOR_AUTH_RATE_LIMIT_MAX=str(FAILURE_LIMIT), BACKOFFICE_METRICS_TOKEN=TOKEN,
               # Every instance extends the same audit chain: one signing key, one checkpoint file.
               AUDIT_SIGNING_KEY="fleet-audit-signing-key-0123456789abcdef",
               AUDIT_CHECKPOINT_FILE=str(logs / "audit-checkpoints.jsonl"))
    instances = [Instance(n, free_port(), env, logs / f"{n}.log", cwd=logs) for n in ("a", "b")]
    proxy = None
    try:
        for instance in instances:
            instance.start()
        proxy = Proxy(nginx, free_port(), [i.address for i in instances]).start()
        yield Fleet(proxy, instances, database_url, env, Tally())
    finally:
        if proxy is not None:
            proxy.stop()
        for instance in instances:
            instance.stop()
        redis.stop()
        pg_server.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _addresses(fleet) -> set[str]:
    return {i.address for i in fleet.instances}


# -- a form from one instance, posted to the other ----------------------------------------

def test_a_form_fetched_from_one_instance_posts_successfully_to_the_other(fleet):
    crossed = []
    for attempt in range(6):
        browser = fleet.browser()
        page = browser.get("/admin/genres/new/")
        assert page.status == 200
        saved = browser.post("/admin/genres/new/", {**dict(form_fields(page.body)), "name": f"Crossed {attempt}"})
        assert saved.status == 302, saved.body[:500]
        if saved.upstream != page.upstream:
            crossed.append(attempt)
    assert crossed, "round robin never sent the POST to the other instance"
    rows = fleet.sql("SELECT count(*) FROM genres WHERE name LIKE 'Crossed %%'")[0][0]
    assert rows == 6


# -- the failed sign-in limit ----------------------------------------------------------

def test_the_failed_sign_in_limit_is_shared_whichever_instance_answers(fleet):
    attacker = fleet.browser(credentials=(OPERATOR[0], "guess"), source="127.0.0.2")
    failures = [attacker.get("/admin/") for _ in range(FAILURE_LIMIT)]
    assert [r.status for r in failures] == [401] * FAILURE_LIMIT
    assert {r.upstream for r in failures} == _addresses(fleet), "both instances must have counted failures"
    # The (N+1)-th attempt is refused, on either instance, even with the right password
    # or a made-up X-Forwarded-For (the proxy appends the real address; only it is trusted).
    refused = [fleet.browser(source="127.0.0.2").get("/admin/") for _ in range(2)]
    refused.append(fleet.browser(source="127.0.0.2").get("/admin/", headers={"X-Forwarded-For": "198.51.100.7"}))
    refused.append(attacker.get("/admin/"))
    assert [r.status for r in refused] == [429] * 4
    assert {r.upstream for r in refused} == _addresses(fleet)
    assert all(r.headers.get("retry-after") for r in refused)
    # Somebody else is not locked out.
    assert fleet.browser(source="127.0.0.3").get("/admin/").status == 200


# -- concurrent decisions and edits over both instances ------------------------------------

def _apply(fleet, review_id: int) -> tuple[int, list[str]]:
    browser = fleet.browser()
    page = browser.get(QUEUE + "?state=all")
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.body).group(1)
    confirm = browser.post(QUEUE + "confirm/", {"csrf_token": csrf, "row_action": f"apply:{review_id}"})
    token = re.search(r'name="token" value="([^"]+)"', confirm.body).group(1)
    done = browser.post(QUEUE + "execute/", {"csrf_token": csrf, "token": token})
    return done.status, [page.upstream, confirm.upstream, done.upstream]


def _edit(fleet, genre_id: int, barrier: threading.Barrier, name: str) -> tuple[int, str]:
    browser = fleet.browser()
    page = browser.get(f"/admin/genres/edit/?id={genre_id}")
    form = {**dict(form_fields(page.body)), "name": name}
    barrier.wait()  # everyone holds the same version of the row; now all save at once
    saved = browser.post(f"/admin/genres/edit/?id={genre_id}", form)
    return saved.status, saved.upstream


def test_concurrent_applies_and_edits_end_exactly_once_with_a_linear_verified_chain(fleet, capsys):
    reviews = [r[0] for r in fleet.sql("""
        SELECT r.id FROM tmdb_match_reviews r WHERE r.status = 'pending'
          AND NOT EXISTS (SELECT 1 FROM movies o WHERE o.tmdb_id = r.candidate_tmdb_id)
          AND NOT EXISTS (SELECT 1 FROM tmdb_match_reviews s WHERE s.id <> r.id
                          AND (s.candidate_tmdb_id = r.candidate_tmdb_id OR s.movie_id = r.movie_id))
        ORDER BY r.id LIMIT 8""")]  # no sibling reviews: each apply changes exactly its review and its movie
    genres = [g[0] for g in fleet.sql("SELECT id FROM genres ORDER BY id LIMIT 6")]
    first_audit = fleet.sql("SELECT coalesce(max(id), 0) FROM backoffice_audit_events")[0][0]
    barriers = {g: threading.Barrier(3) for g in genres}
    with ThreadPoolExecutor(24) as pool:
        applies = [pool.submit(_apply, fleet, r) for r in reviews for _ in range(3)]
        edits = {g: [pool.submit(_edit, fleet, g, barriers[g], f"Edit {g} by {n}") for n in range(3)] for g in genres}
        apply_results = [f.result() for f in applies]
        edit_results = {g: [f.result() for f in fs] for g, fs in edits.items()}

    assert all(status == 302 for status, _ in apply_results), apply_results
    upstreams = {u for _, hops in apply_results for u in hops} | {u for rs in edit_results.values() for _, u in rs}
    assert upstreams == _addresses(fleet), "the work must have been spread over both instances"
    for review in reviews:
        status, decided = fleet.sql("SELECT status, decided_by FROM tmdb_match_reviews WHERE id = %(i)s", i=review)[0]
        assert (status, decided) == ("applied", OPERATOR[0])
        applied = fleet.sql("SELECT count(*) FROM backoffice_audit_events WHERE action = 'review.apply' "
                            "AND entity_type = 'tmdb_match_reviews' AND entity_id = %(i)s", i=str(review))[0][0]
        assert applied == 1, f"review {review} applied {applied} times"
    for genre, results in edit_results.items():
        statuses = sorted(s for s, _ in results)
        assert statuses == [302, 422, 422], (genre, results)  # one save wins; the stale ones are refused
        updates = fleet.sql("SELECT count(*) FROM backoffice_audit_events WHERE entity_type = 'genres' "
                            "AND entity_id = %(i)s AND id > %(f)s", i=str(genre), f=first_audit)[0][0]
        assert updates == 1
        assert fleet.sql("SELECT name FROM genres WHERE id = %(i)s", i=genre)[0][0].startswith(f"Edit {genre} by ")

    audit_rows, distinct_previous = fleet.sql(
        "SELECT count(*), count(DISTINCT prev_hash) FROM backoffice_audit_events")[0]
    assert audit_rows == distinct_previous, "two audit rows share a predecessor: the chain forked"
    verified = subprocess.run([str(Path(sys.executable).parent / "backoffice"), "audit-verify"],
                              cwd=fleet.instances[0].cwd,
                              env=fleet.env, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stderr
    written = fleet.sql("SELECT count(*) FROM backoffice_audit_events WHERE id > %(f)s", f=first_audit)[0][0]
    movies_changed = fleet.sql("SELECT count(*) FROM backoffice_audit_events WHERE id > %(f)s "
                               "AND entity_type = 'movies'", f=first_audit)[0][0]
    assert movies_changed == len(reviews)
    changes = 2 * len(reviews) + len(genres)  # each review row and its movie, each winning edit
    assert written == changes
    with capsys.disabled():
        print(f"\nfleet decisions and edits: {len(apply_results)} applies for {len(reviews)} reviews, "
              f"{sum(len(r) for r in edit_results.values())} edits of {len(genres)} genres; "
              f"audit rows {written} for {changes} changes; {verified.stdout.strip()}")


# -- metrics add up every worker --------------------------------------------------------

def _scrape(instance: Instance) -> dict[str, float]:
    browser = Browser(instance.port, None)
    reply = browser.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status == 200
    samples = {}
    for line in reply.body.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def _lists(samples: dict[str, float]) -> float:
    return sum(v for k, v in samples.items()
               if k.startswith("backoffice_http_requests_total{") and 'kind="list"' in k and 'status="200"' in k)


def test_each_instances_metrics_add_up_all_of_its_workers(fleet):
    before = {i.address: _lists(_scrape(i)) for i in fleet.instances}
    browsers = [fleet.browser() for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda n: browsers[n % 6].get(f"/admin/movies/?page={n % 4}"), range(60)))
    assert all(r.status == 200 for r in replies)
    served = {address: sum(1 for r in replies if r.upstream == address) for address in before}
    after = {i.address: _lists(_scrape(i)) for i in fleet.instances}
    for address in before:
        assert after[address] - before[address] == served[address], address
    # /metrics is also behind the proxy with its token, and refused without it.
    assert fleet.browser(credentials=None).get("/metrics").status == 404
    assert fleet.browser().get("/metrics").status == 404  # operator credentials do not open it


# -- health snapshots ----------------------------------------------------------------------

def _gauge(samples: dict[str, float], name: str, check: str | None = None) -> float | None:
    for key, value in samples.items():
        if key.startswith(name + "{" if check else name) and (check is None or f'check="{check}"' in key):
            return value
    return None


def test_a_health_snapshot_computed_by_one_instance_is_served_by_the_other(fleet):
    browser = fleet.browser()
    page = browser.get("/admin/catalog-health/")
    assert page.status == 200
    refreshed = browser.post("/admin/catalog-health/refresh", dict(form_fields(page.body)))
    assert refreshed.status == 302
    computed_by = refreshed.upstream
    missing = fleet.sql("SELECT count(*) FROM movies WHERE overview IS NULL OR overview = ''")[0][0]
    # The catalog changes after the refresh: an instance computing its own figures would show it.
    fleet.sql("INSERT INTO movies (title, created_at, updated_at) VALUES ('Snapshot probe', now(), now())")
    stamps = {}
    for _ in range(4):
        reply = browser.get("/admin/catalog-health/")
        assert reply.status == 200
        stamps.setdefault(reply.upstream, set()).update(re.findall(r'<time datetime="([^"]+)"', reply.body))
    assert set(stamps) == _addresses(fleet) and computed_by in stamps
    assert len({stamp for found in stamps.values() for stamp in found}) == 1, stamps
    # Each instance's /metrics reports the same stored figures: the ones before the change.
    for instance in fleet.instances:
        samples = _scrape(instance)
        assert _gauge(samples, "backoffice_catalog_health_affected_rows", "missing_overview") == missing
    computed = {_gauge(_scrape(i), "backoffice_catalog_health_computed_timestamp_seconds") for i in fleet.instances}
    assert len(computed) == 1 and None not in computed


# -- one instance stops mid-run ----------------------------------------------------------

def _metric_directories(instance: Instance) -> list[Path]:
    """The server's multi-process metrics directory (named by gunicorn_conf after the master's pid)."""
    return sorted(Path(tempfile.gettempdir()).glob(f"backoffice-metrics-{instance.process.pid}-*"))


def test_stopping_one_instance_mid_run_loses_no_write_and_no_read(fleet, capsys):
    tally_before = dict(fleet.tally.by_status)
    acknowledged, failed = [], []
    read_errors = []
    progress = threading.Semaphore(0)
    stop_reads = threading.Event()

    def writer(number: int) -> None:
        browser = fleet.browser()
        for step in range(15):
            name = f"Fleet write {number}-{step}"
            page = browser.get("/admin/genres/new/")
            if page.status != 200:
                read_errors.append(page.status)
                continue
            saved = browser.post("/admin/genres/new/", {**dict(form_fields(page.body)), "name": name})
            (acknowledged if saved.status == 302 else failed).append((name, saved.status))
            progress.release()

    def reader() -> None:
        browser = fleet.browser()
        n = 0
        while not stop_reads.is_set():
            reply = browser.get(f"/admin/movies/?page={n % 5}")
            n += 1
            if reply.status != 200:
                read_errors.append(reply.status)

    with ThreadPoolExecutor(10) as pool:
        readers = [pool.submit(reader) for _ in range(4)]
        writers = [pool.submit(writer, n) for n in range(6)]
        for _ in range(20):  # a quarter of the writes are done: stop instance b mid-run
            progress.acquire()
        metric_files = _metric_directories(fleet.instances[1])
        assert len(metric_files) == 1 and list(metric_files[0].glob("*.db")), "b keeps its metrics in files"
        fleet.instances[1].stop()
        for future in writers:
            future.result()
        stop_reads.set()
        for future in readers:
            future.result()

    names = [name for name, _ in acknowledged + failed]
    stored = dict(fleet.sql("SELECT name, count(*) FROM genres WHERE name LIKE 'Fleet write %%' GROUP BY name"))
    audited = dict(fleet.sql("SELECT g.name, count(*) FROM backoffice_audit_events a JOIN genres g "
                             "ON a.entity_type = 'genres' AND a.entity_id = g.id::text AND a.action = 'create' "
                             "WHERE g.name LIKE 'Fleet write %%' GROUP BY g.name"))
    assert all(stored.get(name) == 1 and audited.get(name) == 1 for name, _ in acknowledged), "an acknowledged write was lost"
    assert all(stored.get(name, 0) <= 1 for name in names), "a write was applied twice"
    assert set(stored) <= set(names) and stored.keys() == audited.keys()
    assert read_errors == [], f"reads failed while an instance stopped: {read_errors}"
    assert fleet.instances[1].process.returncode == 0, "instance b did not stop cleanly"
    assert _metric_directories(fleet.instances[1]) == [], "a stopped server leaves its metric files behind"
    new = {k: v - tally_before.get(k, 0) for k, v in fleet.tally.by_status.items() if v - tally_before.get(k, 0)}
    with capsys.disabled():
        print(f"\nfleet stop mid-run: {sum(new.values())} requests ({fleet.tally.server_errors()} 5xx over the "
              f"whole module), {len(acknowledged)} writes acknowledged, {len(failed)} refused {failed[:5]}, "
              f"{len(stored)} stored, {sum(audited.values())} audit rows; by method and status {sorted(new.items())}")
        print(f"fleet totals: {fleet.tally.requests} requests through the proxy, by instance "
              f"{dict(fleet.tally.by_upstream)}, 5xx {fleet.tally.server_errors()}")
