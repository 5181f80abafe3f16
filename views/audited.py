"""Every Flask-Admin write path of a generated screen, through the audit hooks.

Flask-Admin's own paths are kept where they already commit once (create, edit,
inline edit, single delete) and given the operator's reason; the rest is replaced:

* the bulk ``delete`` action deleted row by row with one commit per row (a veto on
  row 2 still deleted rows 1 and 3) or, with ``fast_mass_delete``, by a bulk
  statement: here it leads to a server-side confirmation page (rows, reason, CSRF)
  that deletes every selected row in ONE transaction through the hooks;
* inline edit answers a refused change with 422 and the hook's sentence, not 500.

A refusal raised by a hook (:class:`audit_hooks.AuditError`) is a WTForms
``ValidationError``, which Flask-Admin flashes as is.
"""
from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.helpers import get_redirect_target
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from audit_hooks import AuditError, audit_action, delete_preview
from audit_hooks.collector import entity_id
from backoffice.web.csrf import SecureForm

__all__ = ["AuditedViewMixin", "REASON_FIELD"]

log = logging.getLogger(__name__)

#: Name of the optional "reason" input on create / edit / delete forms.
REASON_FIELD = "audit_reason"
#: Most rows one confirmation page deletes (Flask-Admin's list selects one page anyway).
MAX_BULK_DELETE = 1000


class _ReasonField(StringField):
    """A form input that is recorded in the audit trail, never written to the row."""

    def populate_obj(self, obj, name):
        pass


class BulkDeleteForm(SecureForm):
    """Confirmation of a bulk delete: the reason, and where to go back to."""

    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)],
                           description="Recorded in the audit trail with every deleted row.")
    url = HiddenField()


def _reason() -> str | None:
    return (request.form.get(REASON_FIELD) or "").strip()[:2000] or None


class AuditedViewMixin:
    """Mixin for :class:`~views.base.ReflectedModelView`: audited writes, History link."""

    def scaffold_form(self):
        form_class = super().scaffold_form()
        if hasattr(form_class, REASON_FIELD):  # a real column of that name wins; no reason input then
            return form_class
        form_class.audit_reason = _ReasonField(
            "Reason for this change", validators=[Optional(), Length(max=2000)],
            description="Optional; recorded in the audit trail.")
        return form_class

    def create_model(self, form):
        with audit_action(reason=_reason()):
            return super().create_model(form)

    def update_model(self, form, model):
        with audit_action(reason=_reason()):
            return super().update_model(form, model)

    def delete_model(self, model):
        with audit_action(reason=_reason()):
            return super().delete_model(model)

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self):
        response = super().ajax_update()
        if isinstance(response, tuple) and response[1] == 500:
            # a refused or invalid change is the operator's to fix, not a server fault
            return response[0], 422
        return response

    @action("delete", "Delete", None)
    def action_delete(self, ids):
        """Selected rows -> the confirmation page (deleting happens there, in one transaction)."""
        return redirect(self.get_url(".bulk_delete_view", id=list(ids), url=get_redirect_target()))

    @expose("/bulk-delete/", methods=("GET", "POST"))
    def bulk_delete_view(self):
        if not self.can_delete or not self.is_action_allowed("delete"):
            abort(404)
        return_url = get_redirect_target() or self.get_url(".index_view")
        ids = request.values.getlist("id")[:MAX_BULK_DELETE]
        models = [m for m in (self.get_one(i) for i in ids) if m is not None]
        form = BulkDeleteForm(url=return_url)
        status = 200
        if request.method == "POST" and form.validate_on_submit() and models:
            if self._delete_all(models, form.reason.data):
                flash(f"{len(models)} record(s) were deleted.", "success")
                return redirect(return_url)
            status = 422
        elif request.method == "POST" and not models:
            flash("None of the selected records exists any more.", "error")
            status = 422
        cascade = self.cascade_of(models)
        return self.render("backoffice/audit/bulk_delete.html", form=form, models=models, ids=ids,
                           return_url=return_url, row_ids=[self._entity_id(m) for m in models],
                           cascade=cascade), status

    def _delete_all(self, models, reason: str | None) -> bool:
        # ModelView holds the Flask-SQLAlchemy object; its attributes proxy the sqlalchemy
        # module (db.delete is sqlalchemy.delete), so reach the real session explicitly.
        session = getattr(self.session, "session", self.session)
        try:
            with audit_action("delete", reason=(reason or "").strip() or None):
                for model in models:
                    self.on_model_delete(model)
                    session.delete(model)
            session.commit()
        except Exception as exc:
            session.rollback()
            if isinstance(exc, AuditError):
                flash(str(exc), "error")
            elif not self.handle_view_exception(exc):
                log.exception("bulk delete failed")
                flash(f"Failed to delete records; nothing was deleted. {exc}", "error")
            return False
        for model in models:
            self.after_model_delete(model)
        return True

    def cascade_of(self, models):
        """What the database will also delete or change when ``models`` are deleted (read only)."""
        return delete_preview(getattr(self.session, "session", self.session), list(models),
                              current_app.extensions["backoffice.reflection"])

    def _entity_id(self, model) -> str:
        value = self.get_pk_value(model)
        return entity_id(list(value) if isinstance(value, tuple) else [value])

    def audit_history_url(self, model) -> str | None:
        """The audit history of one record (the detail page's "History" link); None when
        the operator may not read the audit history."""
        from backoffice.core.access import current_operator

        from views.audit import AUDIT_VIEW_ROLE

        if not current_operator().may(AUDIT_VIEW_ROLE):
            return None
        return url_for("audit.index_view", table=self.entry.qualified_name, entity=self._entity_id(model))
