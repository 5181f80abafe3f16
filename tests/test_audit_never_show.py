"""Columns a screen never shows stay hidden in the audit history and its export."""
from audit_hooks import audit_action


def test_never_shown_values_are_masked_in_history_and_export(make_app, tmp_path):
    config = tmp_path / "backoffice.toml"
    config.write_text('[views.movies]\nnever_show = ["imdb_id"]\n')
    app = make_app(BACKOFFICE_CONFIG=str(config))
    with app.app_context():
        db = app.extensions["backoffice.db"]
        movie = db.session.get(app.extensions["backoffice.reflection"].tables["movies"].model, 1)
        with audit_action("catalog.fix", reason="imdb correction"):
            movie.imdb_id = "tt7777777"
            movie.title = "Visible Title Change"
        db.session.commit()
    client = app.test_client()
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert "Visible Title Change" in page and "(hidden)" in page
    assert "tt7777777" not in page
    export = client.get("/admin/audit/export.csv").get_data(as_text=True)
    assert "Visible Title Change" in export and "tt7777777" not in export
