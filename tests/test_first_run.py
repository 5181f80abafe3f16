"""The README's run command: no DATABASE_URL, no declarative file -> the demo catalog,
seeded on first start and served as its own declarative file tunes it. Any other
database keeps the generic defaults."""
from __future__ import annotations

from console.app import create_app


def _movies_list(app) -> str:
    response = app.test_client().get("/admin/movies/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_embedded_demo_catalog_is_served_with_its_declarative_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the instance folder (and the demo database) goes here
    app = create_app({"SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    assert (tmp_path / "instance" / "backoffice-demo.sqlite").is_file()
    assert app.extensions["backoffice.declarations"].path.name == "demo.toml"
    page = _movies_list(app)
    assert "TMDB sync" in page  # a label the demo file declares
    assert "Overview" not in page  # long text left to the details page


def test_another_database_gets_the_generic_defaults(sqlite_demo_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": sqlite_demo_url, "SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    assert app.extensions["backoffice.declarations"].path is None
    assert "TMDB sync" not in _movies_list(app)


def test_a_backoffice_toml_beside_the_demo_catalog_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "backoffice.toml").write_text('[views.movies]\nlabel = "Films"\n', encoding="utf-8")
    app = create_app({"SECRET_KEY": "k", "LOG_LEVEL": "WARNING"})
    assert app.extensions["backoffice.declarations"].path.name == "backoffice.toml"
    assert "Films" in _movies_list(app)
