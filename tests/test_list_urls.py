"""A screen builds its list URLs from one ``url_for`` per endpoint and request
(views/reading.py ``get_url``): every URL must be the text ``url_for`` gives, for awkward
arguments, for endpoints with path arguments, and for a page under a script root."""
import pytest
from flask import url_for

from tests.test_list_rendering import _same_token


def _movies(app):
    return next(v for v in app.extensions["backoffice.admin"]._views if getattr(v, "screen", None) == "movies")


ARGUMENTS = [
    {},
    {"page": 3},
    {"page": None, "sort": 2, "desc": 1},
    {"search": 'a&b "c" <d> 100% + plus/slash?q=1#frag', "url": "/admin/movies/?x=1&y=2"},
    {"search": "ünï código 東京", "flt0_1": "it's", "page_size": 20},
    {"id": ["1", "2", None], "empty": ""},
    {"x": True, "y": 0, "z": 1.5},
]


@pytest.mark.parametrize("root", ["", "/console"])
def test_prefixed_urls_are_what_url_for_gives(app, root):
    view = _movies(app)
    endpoints = [".index_view", ".details_view", ".edit_view", "table_movies.create_view", ".action_view"]
    with app.test_request_context("/admin/movies/", base_url=f"http://example.test{root}"):
        for endpoint in endpoints:
            for args in ARGUMENTS:
                for _twice in range(2):  # the second call answers from the request's prefix
                    view.prefix_urls = True
                    fast = view.get_url(endpoint, **args)
                    assert fast == url_for(endpoint, **args), (endpoint, args)
        for args in ({"filename": "admin/js/x.js", "v": "1.0.0"}, {"filename": "a b/ü?.css"}):
            for _twice in range(2):
                assert view.get_url("admin.static", **args) == url_for("admin.static", **args)
        # Arguments url_for reads itself go to url_for.
        assert view.get_url(".index_view", _external=True, page=2) == url_for(".index_view", _external=True, page=2)
        assert view.get_url(".index_view", _anchor="top") == url_for(".index_view", _anchor="top")


def test_a_url_default_callback_is_honoured(app):
    view = _movies(app)

    @app.url_defaults
    def add_lang(endpoint, values):
        if endpoint.startswith("table_movies.") or endpoint == "admin.static":
            values.setdefault("lang", "fr")

    try:
        with app.test_request_context("/admin/movies/"):
            assert view.get_url(".index_view", page=2) == url_for(".index_view", page=2)
            assert "lang=fr" in view.get_url(".index_view", page=2)
            assert "lang=fr" in view.get_url("admin.static", filename="a.css")
    finally:
        app.url_default_functions[None].remove(add_lang)
        app.extensions.pop("backoffice.plain_endpoints", None)


def test_list_page_links_are_unchanged(app):
    client = app.test_client()
    view = _movies(app)
    url = '/admin/movies/?page_size=20&sort=1&desc=1&search=a%26b&x="<&>\'%25'
    view.prefix_urls = True
    fast = client.get(url).get_data(as_text=True)
    view.prefix_urls = False
    try:
        slow = client.get(url).get_data(as_text=True)
    finally:
        view.prefix_urls = True
    assert _same_token(fast) == _same_token(slow)
    assert fast.count("/admin/movies/?") > 10  # sort, pager and filter links were built
