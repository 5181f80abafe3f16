"""Custom screens from a module outside the package, named in BACKOFFICE_CUSTOM_VIEWS."""
from __future__ import annotations

import sys
import textwrap
import uuid

import pytest

from backoffice.core.declarations import DeclarationError
from backoffice.core.settings import SettingsError, load_settings
from views.names import views_of


@pytest.fixture
def outside_module(tmp_path, monkeypatch):
    """Write a module of custom screens in a folder on sys.path (not inside the package)."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    written = []

    def write(body: str) -> str:
        name = f"screens_{uuid.uuid4().hex[:8]}"
        (folder / f"{name}.py").write_text(textwrap.dedent(body))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def test_a_screen_from_a_module_outside_the_package_replaces_the_generated_one(make_app, outside_module):
    module = outside_module("""
        from views.base import ReflectedModelView

        class GenreScreen(ReflectedModelView):
            table = "genres"
            column_labels = {"name": "Genre (from outside)"}
    """)
    app = make_app(BACKOFFICE_CUSTOM_VIEWS=module)
    [view] = [v for v in views_of(app) if getattr(v, "screen", None) == "genres"]
    assert type(view).__mro__[1].__module__ == module or type(view).__module__ == module
    html = app.test_client().get("/admin/genres/").get_data(as_text=True)
    assert "Genre (from outside)" in html


def test_a_module_that_cannot_be_imported_stops_start_up_naming_the_setting(make_app, outside_module):
    broken = outside_module("raise RuntimeError('half-written module')\n")
    for value in ("no_such_module_anywhere", broken):
        with pytest.raises(SettingsError) as caught:
            make_app(BACKOFFICE_CUSTOM_VIEWS=value)
        assert "BACKOFFICE_CUSTOM_VIEWS" in str(caught.value) and value in str(caught.value)


def test_a_malformed_path_is_refused_with_the_settings():
    with pytest.raises(SettingsError) as caught:
        load_settings({"BACKOFFICE_CUSTOM_VIEWS": "screens, not a/path"})
    assert "BACKOFFICE_CUSTOM_VIEWS='screens, not a/path' is not valid" in str(caught.value)
    assert load_settings({"BACKOFFICE_CUSTOM_VIEWS": " a.b , c "}).backoffice_custom_views == ("a.b", "c")


def test_an_outside_screen_naming_no_table_is_a_declaration_error(make_app, outside_module):
    module = outside_module("""
        from views.base import ReflectedModelView

        class PeopleScreen(ReflectedModelView):
            table = "peple"
    """)
    with pytest.raises(DeclarationError) as caught:
        make_app(BACKOFFICE_CUSTOM_VIEWS=module)
    assert f"{module}.PeopleScreen.table: 'peple' is not a table or view" in str(caught.value)
    assert "backoffice.E035" in str(caught.value)
