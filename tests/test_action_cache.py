"""Row actions come from a rendering kept per screen (views/action_cache.py), this page's
return URL and CSRF token put in: every page must match the macros' own rendering, with
the token of its own session, whatever page filled the cache."""
import html
import re

from flask_admin.model import template as row_templates

from tests.test_list_rendering import _both, _same_token, _views

AWKWARD = ['?page_size=20&x="<&>\'%25 y', "?page_size=20&q=url%3D%2Fadmin&sort=1",
           "?page_size=20&note=東京+it's", "?page_size=20", "?page_size=20&page=2&desc=1"]


def _rendered_by_macro(monkeypatch):
    calls = []
    original = row_templates.TemplateLinkRowAction.render

    def counting(self, context, row_id, row):
        calls.append(type(self).__name__)
        return original(self, context, row_id, row)

    monkeypatch.setattr(row_templates.TemplateLinkRowAction, "render", counting)
    return calls


def test_pages_after_the_first_match_the_macros_with_their_own_return_url(app, monkeypatch):
    client = app.test_client()
    view = next(v for v in _views(app) if v.screen == "movies")
    client.get("/admin/movies/?page_size=20&fill=1")  # keeps the templates
    calls = _rendered_by_macro(monkeypatch)
    for query in AWKWARD:
        calls.clear()
        view.fast_row_actions = True
        fast = client.get("/admin/movies/" + query).get_data(as_text=True)
        assert calls == []  # served from the kept renderings, not the macros
        view.fast_row_actions = False
        slow = client.get("/admin/movies/" + query).get_data(as_text=True)
        view.fast_row_actions = True
        assert _same_token(fast) == _same_token(slow), query
        # The return URL of this page, not of the page that filled the cache.
        shown = html.unescape(fast)
        assert "fill=1" not in shown


def test_every_screen_after_a_first_page(app):
    client = app.test_client()
    for view in _views(app):
        client.get(view.url + "/?page_size=20&first=1")
        fast, slow = _both(client, view, view.url + "/?page_size=20&page=1&x=%3C%22%3E")
        assert fast == slow, view.screen
        assert "first=1" not in fast


def test_each_session_gets_its_own_token(app):
    first, second = app.test_client(), app.test_client()
    first.get("/admin/genres/?page_size=20&a=1")  # the first session fills the cache
    page = second.get("/admin/genres/?page_size=20&b=2").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    row_id = re.search(r'<input id="id" name="id" type="hidden" value="([^"]+)"', page).group(1)
    other = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      first.get("/admin/genres/?page_size=20&a=1").get_data(as_text=True)).group(1)
    assert token != other
    form = {"id": row_id, "url": "/admin/genres/"}
    # The other session's token is refused (400); this page's own is accepted (302).
    assert second.post("/admin/genres/delete/", data={**form, "csrf_token": other}).status_code == 400
    assert second.post("/admin/genres/delete/", data={**form, "csrf_token": token}).status_code == 302
