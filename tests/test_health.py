from console.app import create_app


def test_healthz_needs_no_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_ok_when_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_readyz_503_when_database_is_gone(pg_server, pg_demo_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": pg_demo_url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    name = pg_demo_url.rsplit("/", 1)[1]
    pg_server.admin_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and "database did not answer" in body["reason"]
    assert client.get("/healthz").status_code == 200


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz")
    assert len(response.headers["X-Request-Id"]) == 32
    echoed = client.get("/healthz", headers={"X-Request-Id": "abc12345-proxy"})
    assert echoed.headers["X-Request-Id"] == "abc12345-proxy"
    forged = client.get("/healthz", headers={"X-Request-Id": "<script>"})
    assert forged.headers["X-Request-Id"] != "<script>"
