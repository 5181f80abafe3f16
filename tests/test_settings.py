import logging

import pytest

from console.app import create_app
from backoffice.core.settings import SETTINGS, Settings, SettingsError, load_settings, normalise_database_url


def test_defaults_without_environment():
    settings = load_settings({})
    assert settings.port == 3000
    assert settings.operator_auth_realm == "Backoffice Operators"
    assert settings.operator_auth_rate_limit_max == 30
    assert settings.operator_auth_rate_limit_window_seconds == 900
    assert settings.ratelimit_storage_uri is None and settings.limit_storage_uri is None
    assert settings.trusted_proxy_count == 0
    assert settings.catalog_health_sample_limit == 5
    assert settings.catalog_health_stale_days == 180
    assert settings.database_url is None
    assert settings.secret_key is None  # the app keeps one in the instance folder (tests/test_secret_key.py)


def test_redis_url_is_the_limit_store_unless_ratelimit_storage_uri_is_set():
    assert load_settings({"REDIS_URL": "redis://cache:6379/0"}).limit_storage_uri == "redis://cache:6379/0"
    both = load_settings({"REDIS_URL": "redis://cache:6379/0", "RATELIMIT_STORAGE_URI": "redis://other:6379"})
    assert both.limit_storage_uri == "redis://other:6379"


def test_every_declared_variable_has_a_field():
    names = {f for f in Settings.__dataclass_fields__}
    for setting in SETTINGS:
        assert setting.name.lower() in names, setting.name
        assert setting.help


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("PORT", "abc", "PORT='abc' is not valid: expected an integer between 1 and 65535"),
        ("PORT", "70000", "PORT='70000' is not valid: expected an integer between 1 and 65535"),
        ("OPERATOR_AUTH_RATE_LIMIT_MAX", "-1", "OPERATOR_AUTH_RATE_LIMIT_MAX='-1' is not valid: expected an integer >= 1"),
        ("OPERATOR_AUTH_RATE_LIMIT_WINDOW_SECONDS", "1.5", "expected an integer >= 1"),
        ("DATABASE_URL", "not a url", "DATABASE_URL='not a url' is not valid: expected a database URL"),
        ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL='mysql://u@h/db' is not valid: expected a postgresql:// or sqlite:/// URL"),
        ("OPERATOR_AUTH_REQUIRED", "maybe", "OPERATOR_AUTH_REQUIRED='maybe' is not valid: expected 1 or 0"),
        ("RATELIMIT_STORAGE_URI", "mongodb://x", "RATELIMIT_STORAGE_URI='mongodb://x' is not valid: expected memory:// or redis://host:port"),
        ("TRUSTED_PROXY_COUNT", "-2", "TRUSTED_PROXY_COUNT='-2' is not valid"),
        ("CATALOG_HEALTH_SAMPLE_LIMIT", "x", "CATALOG_HEALTH_SAMPLE_LIMIT='x' is not valid"),
        ("CATALOG_HEALTH_STALE_DAYS", "0", "CATALOG_HEALTH_STALE_DAYS='0' is not valid"),
        ("OPERATOR_AUTH_REALM", "bad\nrealm", "OPERATOR_AUTH_REALM='bad\\nrealm' is not valid"),
    ],
)
def test_bad_value_names_variable_value_and_expectation(name, value, expected):
    with pytest.raises(SettingsError) as info:
        load_settings({name: value})
    assert expected in str(info.value)
    assert len(info.value.problems) == 1


def test_all_problems_reported_together():
    with pytest.raises(SettingsError) as info:
        load_settings({"PORT": "abc", "TRUSTED_PROXY_COUNT": "many"})
    assert [p.split("=")[0] for p in info.value.problems] == ["PORT", "TRUSTED_PROXY_COUNT"]


def test_password_value_never_echoed():
    with pytest.raises(SettingsError) as info:
        load_settings({"OPERATOR_AUTH_PASSWORD": "hunter2"})
    assert "hunter2" not in str(info.value)
    assert "must be set together" in str(info.value)


def test_create_app_refuses_bad_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match="PORT='abc'"):
        create_app({"PORT": "abc"})


def test_postgres_urls_are_normalised_to_psycopg2():
    assert normalise_database_url("postgresql://u:p@h:5/db") == "postgresql+psycopg2://u:p@h:5/db"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(ValueError, match="psycopg2"):
        normalise_database_url("postgresql+asyncpg://u@h/db")


def test_generated_secret_key_logs_a_warning(sqlite_demo_url, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING):
        app = create_app({"DATABASE_URL": sqlite_demo_url})
    assert app.config["SECRET_KEY"]
    assert [r.getMessage() for r in caplog.records if "SECRET_KEY is not set" in r.getMessage()]
    other = create_app({"DATABASE_URL": sqlite_demo_url})
    assert other.config["SECRET_KEY"] == app.config["SECRET_KEY"]  # kept, not generated per process
