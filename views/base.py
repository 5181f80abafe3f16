"""The generated table screen: Flask-Admin's ``ModelView`` built from four explicit parts.

Each part owns the Flask-Admin hooks it overrides, and no two parts override the same
hook (``tests/test_view_parts.py`` fails when they do), so what a screen does never
depends on the order of its bases:

======================  ====================  ===============================================
part                    file                  decides
======================  ====================  ===============================================
:class:`AccessPart`     ``views/access.py``   who may see the screen and do what (404 refusals)
:class:`ReadingPart`    ``views/reading.py``  what a list query does: count, order, page,
                                              filters, sort links, a row's identity
:class:`FormsPart`      ``views/forms.py``    what a form holds and when it is refused
:class:`WritesPart`     ``views/writes.py``   what a save or a delete does (audited, once)
:class:`PresentationPart` ``views/presentation.py``  what columns show, exports, empty lists
:class:`FullTextPart`   ``views/fulltext.py`` what the search box does with a declared tsvector
======================  ====================  ===============================================

This class owns only the constructor (the order in which the parts set a screen up)
and ``init_actions`` (which ``@action`` methods exist, found once per class).
"""
from __future__ import annotations

from flask_admin import tools
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model.form import converts
from wtforms import fields

from backoffice.core.internals import RunViewOnce, action_declaration, set_actions
from backoffice.web.csrf import SecureForm
from models.reflection import ReflectedTable

from views.access import AccessPart
from views.export import StreamingExportMixin
from views.forms import FormsPart
from views.fulltext import FullTextPart
from views.names import endpoint_for, screen_url
from views.presentation import PresentationPart
from views.reading import ReadingPart
from views.startup import class_action_names
from views.writes import WritesPart

__all__ = ["ReflectedModelView", "BackofficeModelConverter", "view_for", "endpoint_for", "PARTS"]


class BackofficeModelConverter(AdminModelConverter):
    """Flask-Admin's converter plus the types SQLAlchemy 2.1 no longer files under Numeric."""

    @converts("Float", "REAL", "Double", "DOUBLE_PRECISION", "sqlalchemy.sql.sqltypes.Double")
    def handle_float(self, field_args, **extra):
        return fields.FloatField(**field_args)


#: The parts of every generated screen, as its bases list them.
PARTS = (AccessPart, PresentationPart, FormsPart, WritesPart, ReadingPart, FullTextPart, StreamingExportMixin,
         RunViewOnce)


class ReflectedModelView(AccessPart, PresentationPart, FormsPart, WritesPart, ReadingPart, FullTextPart,
                         StreamingExportMixin, RunViewOnce, ModelView):
    """A screen for one reflected table or view.

    Read-only relations (views, tables without a primary key) never offer create,
    edit or delete; rows are always listed in primary-key order so pages are stable.
    """

    form_base_class = SecureForm
    model_form_converter = BackofficeModelConverter
    can_view_details = True
    column_display_pk = True
    page_size = 50
    can_set_page_size = True
    list_template = "backoffice/model/list.html"
    details_template = "backoffice/model/details.html"

    #: Least role that may see / create / edit / delete / export on this screen
    #: (``None`` or "nobody": no one). Enforced by the access part; tuned by the file.
    view_role: str | None = "viewer"
    create_role: str | None = "admin"
    edit_role: str | None = "operator"
    delete_role: str | None = "admin"
    export_role: str | None = "viewer"
    #: Reasons and typed delete confirmation the file requires (views/safeguards.py).
    reasons: dict[str, str] = {}
    confirm_delete: str | None = None
    confirm_delete_seconds: int = 600

    def __init__(self, entry: ReflectedTable, screen: str, db, **kwargs):
        self.entry = entry
        self.screen = screen = str(screen)  # not quoted_name: see views/lazy.py
        if "owned_columns" in kwargs:  # columns a review queue decides (queues/ownership.py)
            self.owned_columns = kwargs.pop("owned_columns")
        if entry.read_only:
            self.can_create = self.can_edit = self.can_delete = False
            self.create_role = self.edit_role = self.delete_role = None
        self.column_default_sort = [(name, False) for name in entry.primary_key]
        kwargs.setdefault("name", screen)
        kwargs.setdefault("category", "Schema")
        kwargs.setdefault("endpoint", endpoint_for(screen))
        kwargs.setdefault("url", screen_url(screen))
        self.plan_columns(entry.model)  # presentation: the options Flask-Admin reads while it scaffolds
        super().__init__(entry.model, db, **kwargs)
        self.decorate_formatters()  # presentation: around the formatters Flask-Admin now holds

    def init_actions(self) -> None:
        """Flask-Admin's action scan (a documented hook) with the class part found once per
        class (``views/startup.py``); the result is exactly Flask-Admin's, in its order."""
        own = vars(self)
        names = {name for name in class_action_names(type(self)) if name not in own}
        names.update(name for name, value in own.items() if action_declaration(value))
        actions = []
        for name in sorted(names):  # dir() order, as Flask-Admin iterates
            action_name, text, desc = action_declaration(tools.get_dict_attr(self, name))
            actions.append((action_name, text, getattr(self, name), desc))
        for action_name, text, handler in self.declared_action_handlers():  # the file's (WritesPart)
            actions.append((action_name, text, handler, None))
        set_actions(self, actions)


def view_for(entry: ReflectedTable, screen: str, db) -> ReflectedModelView:
    return ReflectedModelView(entry, screen, db)
