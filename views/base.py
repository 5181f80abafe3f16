"""The base view of every generated table screen: safe defaults, stable order."""
from __future__ import annotations

from flask import flash
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model.form import converts
from sqlalchemy.exc import DBAPIError
from wtforms import fields

from backoffice.web.csrf import SecureForm
from models.reflection import ReflectedTable, _identifier

from views.access import ModelRoleMixin
from views.audited import AuditedViewMixin
from views.columns import ColumnsMixin, _refused_reading
from views.concurrency import ConcurrencyMixin
from views.indexed import IndexedDefaultsMixin
from views.listing import ListingMixin
from views.ux import OperatorUxMixin
from views.export import StreamingExportMixin
from views.safety import ExportSafetyMixin, FormRefusalMixin
from views.startup import ClassActionsMixin

__all__ = ["ReflectedModelView", "BackofficeModelConverter", "view_for", "endpoint_for"]


class BackofficeModelConverter(AdminModelConverter):
    """Flask-Admin's converter plus the types SQLAlchemy 2.1 no longer files under Numeric."""

    @converts("Float", "REAL", "Double", "DOUBLE_PRECISION", "sqlalchemy.sql.sqltypes.Double")
    def handle_float(self, field_args, **extra):
        return fields.FloatField(**field_args)


class ReflectedModelView(OperatorUxMixin, ModelRoleMixin, FormRefusalMixin, ConcurrencyMixin, AuditedViewMixin,
                         StreamingExportMixin, ExportSafetyMixin, IndexedDefaultsMixin, ListingMixin, ColumnsMixin,
                         ClassActionsMixin, ModelView):
    """A screen for one reflected table or view.

    Read-only relations (views, tables without a primary key) never offer create,
    edit or delete; rows are always listed in primary-key order so pages are stable.
    """

    form_base_class = SecureForm
    model_form_converter = BackofficeModelConverter
    can_view_details = True
    can_export = True
    column_display_pk = True
    page_size = 50
    can_set_page_size = True
    list_template = "backoffice/model/list.html"
    details_template = "backoffice/model/details.html"

    #: Least role that may see / create / edit / delete / export on this screen
    #: (``None`` or "nobody": no one). Enforced by the access mixin; tuned by the file.
    view_role: str | None = "viewer"
    create_role: str | None = "admin"
    edit_role: str | None = "operator"
    delete_role: str | None = "admin"
    export_role: str | None = "viewer"

    def __init__(self, entry: ReflectedTable, screen: str, db, **kwargs):
        self.entry = entry
        self.screen = screen
        if entry.read_only:
            self.can_create = self.can_edit = self.can_delete = False
            self.create_role = self.edit_role = self.delete_role = None
        self.column_default_sort = [(name, False) for name in entry.primary_key]
        kwargs.setdefault("name", screen)
        kwargs.setdefault("category", "Schema")
        kwargs.setdefault("endpoint", endpoint_for(screen))
        # URL rules match the decoded path: keep names as they are (non-ASCII included);
        # only characters that would split a URL become "_".
        kwargs.setdefault("url", "/admin/" + "".join("_" if c in "/?#%" else c for c in screen))
        super().__init__(entry.model, db, **kwargs)

    def get_list(self, *args, **kwargs):
        """A relation the database refuses to read (a materialized view never refreshed,
        a permission missing) shows an empty list and the database's reason, not an error page."""
        try:
            return super().get_list(*args, **kwargs)
        except DBAPIError as exc:
            if not _refused_reading(exc):
                raise  # unreachable database, timeout: the error pages say so (503)
            getattr(self.session, "session", self.session).rollback()
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            flash(f"{self.screen} cannot be read: {reason}", "error")
            return 0, []


def endpoint_for(screen: str) -> str:
    """The Flask endpoint (blueprint) name of a table's screen."""
    return "table_" + _identifier(screen)


def view_for(entry: ReflectedTable, screen: str, db) -> ReflectedModelView:
    return ReflectedModelView(entry, screen, db)
