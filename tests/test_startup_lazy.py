"""Screens built when first used (views/lazy.py, views/deferral.py) change nothing an
operator can see: a 500-table schema starts with every screen registered, listed in the
menu and in the schema report, refused (404) or served (200) by role before it was ever
built, and a screen built on first use is configured exactly like one built at start-up."""
from __future__ import annotations

import os
import re
import sys
import textwrap
import threading
import uuid

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from backoffice.core.settings import normalise_database_url
from console.app import create_app
from views.base import ReflectedModelView
from views.custom import discover
from sqlalchemy import inspect as sa_inspect

from views.deferral import UP_FRONT, is_deferred
from views.lazy import warm_up
from views.names import views_of
from views.tuning import build_screens

from tests.auth_helpers import ADMIN, basic, write_users
from tests.gunicorn_server import ROOT, Gunicorn

TABLES = 500
VIEWER = basic("vera", "pw-vera")
OPERATOR = basic("otto", "pw-otto")
OWNER = basic(*ADMIN)


def _schema(url: str, tables: int = TABLES) -> None:
    """``tables`` tables, each referring to the one before, plus a view per 50."""
    engine = create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        for i in range(tables):
            ref = f", parent_id INTEGER REFERENCES t{i - 1:03d}(id)" if i else ""
            conn.execute(text(f"CREATE TABLE t{i:03d} (id INTEGER PRIMARY KEY, name VARCHAR(80) NOT NULL, "
                              f"note TEXT, amount NUMERIC(10, 2), ratio REAL, created_at TIMESTAMP{ref})"))
            if i % 50 == 49:
                conn.execute(text(f"CREATE VIEW v{i:03d} AS SELECT id, name FROM t{i:03d}"))
        conn.execute(text("INSERT INTO t000 (id, name) VALUES (1, 'root')"))
        conn.execute(text("INSERT INTO t001 (id, name, parent_id) VALUES (7, 'child', 1)"))
    engine.dispose()


@pytest.fixture(scope="module")
def big_app(tmp_path_factory):
    """A console on 500 tables: t250's edits need an admin (declarative file), t400 is a
    custom screen only an operator may see, everything else has the default roles."""
    folder = tmp_path_factory.mktemp("big")
    url = f"sqlite:///{folder}/big.sqlite"
    _schema(url)
    module = f"screens_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(textwrap.dedent("""
        from views.base import ReflectedModelView

        class Restricted(ReflectedModelView):
            table = "t400"
            view_role = "operator"
    """))
    sys.path.insert(0, str(folder))
    previous = os.getcwd()
    os.chdir(folder)  # the instance folder (audit signing key) goes there
    config = folder / "backoffice.toml"
    config.write_text('[views.t250]\nedit = "admin"\n')
    users = write_users(folder / "users", {"vera": ("viewer", "pw-vera"), "otto": ("operator", "pw-otto")})
    try:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test-secret-key", "LOG_LEVEL": "WARNING",
                          "OPERATOR_AUTH_USERNAME": ADMIN[0], "OPERATOR_AUTH_PASSWORD": ADMIN[1],
                          "OPERATOR_AUTH_USERS_FILE": str(users), "BACKOFFICE_CONFIG": str(config),
                          "BACKOFFICE_CUSTOM_VIEWS": module})
        app.config["TESTING"] = True
        yield app
    finally:
        os.chdir(previous)
        sys.path.remove(str(folder))
        sys.modules.pop(module, None)


def _screen(app, name: str):
    return next(v for v in views_of(app) if getattr(v, "screen", None) == name)


def _without_ids(response) -> str:
    return re.sub(r"[0-9a-f]{32}", "RID", response.get_data(as_text=True))


def test_every_relation_has_a_screen_registered_and_none_is_built_at_start(big_app):
    screens = [v for v in views_of(big_app) if getattr(v, "screen", None)]
    assert len(screens) == TABLES + TABLES // 50
    assert {v.screen for v in screens} == {f"t{i:03d}" for i in range(TABLES)} | {
        f"v{i:03d}" for i in range(49, TABLES, 50)}
    untouched = [v for v in screens if v.screen not in ("t000", "t001", "t250", "t400", "t499", "v499")]
    assert all(is_deferred(v) for v in untouched)


def test_the_menu_and_the_schema_report_list_all_of_them_without_building_any(big_app):
    client = big_app.test_client()
    menu = client.get("/admin/", headers=OWNER).get_data(as_text=True)
    report = client.get("/admin/schema-report/", headers=OWNER).get_data(as_text=True)
    for i in range(TABLES):
        assert f'href="/admin/t{i:03d}/"' in menu
        assert f"t{i:03d}" in report
    for i in range(49, TABLES, 50):
        assert f'href="/admin/v{i:03d}/"' in menu
    assert is_deferred(_screen(big_app, "t123")) and is_deferred(_screen(big_app, "v149"))


def test_a_never_opened_screen_refuses_a_role_below_it_with_a_404_and_builds_nothing(big_app):
    client = big_app.test_client()
    restricted, tuned = _screen(big_app, "t400"), _screen(big_app, "t250")
    assert is_deferred(restricted) and is_deferred(tuned)
    missing = client.get("/admin/no-such-table/", headers=VIEWER)
    refused = client.get("/admin/t400/", headers=VIEWER)
    assert refused.status_code == missing.status_code == 404
    assert _without_ids(refused) == _without_ids(missing)
    assert client.get("/admin/t400/details/?id=1", headers=VIEWER).status_code == 404
    assert client.get("/admin/t250/edit/?id=1", headers=OPERATOR).status_code == 404  # edit = "admin"
    assert client.get("/admin/t250/new/", headers=OPERATOR).status_code == 404  # create: admin by default
    assert is_deferred(restricted) and is_deferred(tuned)  # a refusal built nothing
    assert 'href="/admin/t400/"' not in client.get("/admin/", headers=VIEWER).get_data(as_text=True)


def test_a_never_opened_screen_answers_its_role_and_keeps_refusing_below_it(big_app):
    client = big_app.test_client()
    page = client.get("/admin/t400/", headers=OPERATOR)
    assert page.status_code == 200 and "t400" in page.get_data(as_text=True)
    assert not is_deferred(_screen(big_app, "t400"))
    assert client.get("/admin/t400/", headers=VIEWER).status_code == 404
    assert client.get("/admin/t250/edit/?id=1", headers=OPERATOR).status_code == 404
    assert client.get("/admin/t250/", headers=VIEWER).status_code == 200
    assert client.get("/admin/t250/new/", headers=OWNER).status_code == 200


def test_a_screen_built_on_first_use_shows_rows_and_links_to_its_parent(big_app):
    client = big_app.test_client()
    html = client.get("/admin/t001/", headers=VIEWER).get_data(as_text=True)
    assert "child" in html and 'href="/admin/t000/details/?id=1"' in html
    assert client.get("/admin/v499/", headers=VIEWER).status_code == 200
    # a list page's menu links every screen: it asks them up-front questions only
    assert is_deferred(_screen(big_app, "t123")) and is_deferred(_screen(big_app, "t321"))


def test_two_first_requests_at_once_build_the_screen_once_and_both_are_served(big_app):
    view = _screen(big_app, "t321")
    assert is_deferred(view)
    statuses, errors = [], []

    def fetch():
        try:
            statuses.append(big_app.test_client().get("/admin/t321/", headers=VIEWER).status_code)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and statuses == [200] * 4
    assert not is_deferred(view)


def test_reading_a_deferred_screen_outside_a_request_builds_it(big_app):
    view = _screen(big_app, "t222")
    assert is_deferred(view)
    assert type(view).__name__ == "ReflectedModelView" and isinstance(view, ReflectedModelView)
    # a class-level option the constructor replaces is never read before it ran
    assert ReflectedModelView.column_default_sort is None
    assert view.column_default_sort == [("id", False)]
    assert not is_deferred(view) and type(view) is ReflectedModelView
    with pytest.raises(AttributeError):
        view.no_such_attribute  # noqa: B018 - a built screen says what is missing, as any object


def _simple(value) -> bool:
    if isinstance(value, (str, int, float, bool, type(None))):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_simple(v) for v in value)
    if isinstance(value, dict):
        return all(_simple(k) and _simple(v) for k, v in value.items())
    return False


def test_a_screen_built_on_first_use_is_configured_like_one_built_at_start_up(make_app):
    """Every generated screen of the demo (with its declarative file): the same instance
    attributes, equal wherever they are plain values, the same list and detail columns."""
    app = make_app()
    db = app.extensions["backoffice.db"]
    eager = {v.screen: v for v in build_screens(app.extensions["backoffice.reflection"],
                                                app.extensions["backoffice.declarations"], db, discover(()),
                                                app.extensions.get("backoffice.queues.owned"))}
    lazy = {v.screen: v for v in views_of(app) if getattr(v, "screen", None)}
    assert set(lazy) == set(eager)
    for screen, view in lazy.items():
        built = eager[screen]
        assert is_deferred(view)
        view.get_list_columns()  # any read finishes the construction
        assert not is_deferred(view)
        registered = {"admin", "blueprint", "menu", "url", "static_url_path", "static_folder"}
        assert set(vars(view)) - registered == set(vars(built)) - registered, screen
        # what a deferred screen answers up front is what the built one holds
        assert set(vars(built)) & UP_FRONT <= set(vars(view)) & UP_FRONT | registered, screen
        for name in set(vars(built)) & UP_FRONT - registered:
            assert vars(built)[name] == vars(view)[name], (screen, name)
        for name, value in vars(built).items():
            if name not in registered and _simple(value):
                assert vars(view)[name] == value, (screen, name)
        assert view.get_list_columns() == built.get_list_columns(), screen
        assert view.get_details_columns() == built.get_details_columns(), screen
        assert type(view) is type(built) and view.endpoint == built.endpoint and view.url == built.url


def test_warm_up_configures_every_mapper_and_builds_the_declared_and_custom_screens_only(tmp_path, monkeypatch):
    """What gunicorn's master runs before it forks (console/gunicorn_conf.py ``when_ready``)."""
    url = f"sqlite:///{tmp_path}/small.sqlite"
    _schema(url, 20)
    module = f"screens_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent("""
        from views.base import ReflectedModelView

        class Custom(ReflectedModelView):
            table = "t005"
    """))
    (tmp_path / "backoffice.toml").write_text('[views.t003]\nlabel = "Three"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    config = {"DATABASE_URL": url, "SECRET_KEY": "test-secret-key", "LOG_LEVEL": "WARNING",
              "BACKOFFICE_CONFIG": str(tmp_path / "backoffice.toml"), "BACKOFFICE_CUSTOM_VIEWS": module}
    try:
        create_app(config)  # the first start creates the console's own tables (and writes through the ORM)
        app = create_app(config)  # a restart
        screens = {v.screen: v for v in views_of(app) if getattr(v, "screen", None)}
        models = [entry.model for entry in app.extensions["backoffice.reflection"].tables.values() if entry.model]
        assert len(screens) == 20 and all(is_deferred(v) for v in screens.values())
        # the declarative file was checked and the tuned screen planned without configuring a mapper
        assert not any(sa_inspect(model).configured for model in models)  # so the check below can fail
        assert warm_up(app) == 2
        assert all(sa_inspect(model).configured for model in models)
        for entry in app.extensions["backoffice.reflection"].tables.values():  # what start-up read instead
            mapper = sa_inspect(entry.model)
            assert {name: set(local) for name, local in entry.relations.items()} == {
                rel.key: {c.name for c in rel.local_columns} for rel in mapper.relationships}, entry.name
        assert not is_deferred(screens["t003"]) and not is_deferred(screens["t005"])
        assert all(is_deferred(v) for name, v in screens.items() if name not in ("t003", "t005"))
        assert type(screens["t005"]).__name__ == "Custom" and screens["t003"].name == "Three"
        assert app.test_client().get("/admin/t001/").status_code == 200
    finally:
        sys.modules.pop(module, None)


def _statements_of_a_restart(url: str) -> int:
    """SQL statements every engine runs while the console restarts on ``url``."""
    config = {"DATABASE_URL": url, "SECRET_KEY": "test-secret-key", "LOG_LEVEL": "ERROR"}
    create_app(config)  # the first start creates the console's own tables
    seen = []

    def count(*_args):
        seen.append(1)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        create_app(config)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    return len(seen)


@pytest.mark.postgres
def test_postgresql_start_up_asks_the_catalog_in_batches_not_per_table(pg_server, tmp_path, monkeypatch):
    """Reflection, sizes, comments, views' definitions, audit set-up: the statements a
    restart runs do not grow with the tables (20 and 120 tables: the same count)."""
    monkeypatch.chdir(tmp_path)
    counts = []
    for tables in (20, 120):
        name = f"t_{uuid.uuid4().hex[:12]}"
        url = pg_server.create_database(name)
        _schema(url, tables)
        counts.append(_statements_of_a_restart(url))
        pg_server.drop_database(name)
    assert counts[0] == counts[1] and counts[0] < 60, counts


@pytest.mark.slow  # a gunicorn process
def test_a_custom_screen_that_cannot_be_built_stops_gunicorn_before_it_serves(sqlite_demo_url, tmp_path):
    (tmp_path / "broken_screens.py").write_text(textwrap.dedent("""
        from views.base import ReflectedModelView

        class Broken(ReflectedModelView):
            table = "people"

            def __init__(self, *args, **kwargs):
                raise RuntimeError("people screen: this constructor is broken")
    """))
    server = Gunicorn.start({"DATABASE_URL": sqlite_demo_url, "SECRET_KEY": "k", "LOG_LEVEL": "INFO",
                             "BACKOFFICE_CUSTOM_VIEWS": "broken_screens",
                             "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}, cwd=tmp_path, workers=1, wait=False)
    try:
        server.process.wait(timeout=120)
    finally:
        server.stop()
    assert server.process.returncode != 0
    assert "people screen: this constructor is broken" in server.log()
    assert "Booting worker" not in server.log()  # it never served
