"""X-Forwarded-Proto / X-Forwarded-For are believed only as TRUSTED_PROXY_COUNT says,
through gunicorn too (which by default believes them from 127.0.0.1)."""
from __future__ import annotations

import pytest

from tests.gunicorn_server import Gunicorn

pytestmark = pytest.mark.slow
FORGED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}


def _session_cookie(server) -> str:
    reply = server.get("/admin/catalog-health/", headers=FORGED)  # a page with a form: a session cookie
    assert reply.status == 200
    return reply.headers["set-cookie"]


@pytest.mark.parametrize("trusted, secure", [("0", False), ("1", True)])
def test_a_forwarded_https_claim_counts_only_from_a_trusted_proxy(sqlite_demo_url, tmp_path, trusted, secure):
    server = Gunicorn.start({"DATABASE_URL": sqlite_demo_url, "SECRET_KEY": "k", "LOG_LEVEL": "INFO",
                             "TRUSTED_PROXY_COUNT": trusted}, cwd=tmp_path)
    try:
        cookie = _session_cookie(server)
    finally:
        server.stop()
    assert ("; Secure" in cookie) is secure, cookie
    logged = [line for line in server.log().splitlines() if '"path": "/admin/catalog-health/"' in line]
    assert logged and all(('"client_addr": "198.51.100.7"' in line) is secure for line in logged)
