"""Writes: the part of a generated screen that decides what a save does.

Every Flask-Admin write path goes through the audit hooks, inside the save's transaction:

* create, edit, inline edit and single delete keep Flask-Admin's own paths (they commit
  once) inside ``audit_action`` with the operator's reason; a create records its form's
  one-time nonce in the same transaction (a resubmitted form creates nothing), an edit
  based on a stale version of the row is refused before anything is written;
* the bulk ``delete`` action deleted row by row with one commit per row (a veto on row 2
  still deleted rows 1 and 3) or, with ``fast_mass_delete``, by a bulk statement: here it
  leads to a server-side confirmation page (rows, reason, CSRF) that deletes every
  selected row in ONE transaction through the hooks;
* inline edit answers a refused change with 422 and the hook's sentence, not 500;
* each success says what happened to which row (``views/ux.py`` words it).

:class:`WritesPart` owns ``create_model``, ``update_model``, ``delete_model``,
``on_model_change``, ``after_model_change``, ``ajax_update``, the ``delete`` action and,
through :class:`views.declared_actions.DeclaredActions`, the declared row actions of the file.
A refusal raised by a hook (:class:`audit_hooks.AuditError`) is a WTForms
``ValidationError``, which Flask-Admin flashes as is.
"""
from __future__ import annotations

import logging

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.helpers import get_redirect_target
from sqlalchemy import inspect as sa_inspect
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from audit_hooks import AuditError, audit_action, delete_preview
from audit_hooks.collector import entity_id
from backoffice.core.access import current_operator
from backoffice.web.csrf import SecureForm

from views.approval_capture import approval_role, hold_create, hold_delete, hold_edit
from views.concurrency import NONCE_FIELD, VERSION_FIELD, record_submission, stale_edit, submitted_value
from views.declared_actions import DeclaredActions
from views.forms import reason_given
from views.safeguards import (expected_typed, missing_reason, reason_required, selection_refusal, sign_selection,
                              typed_prompt)
from views.names import AUDIT_VIEW_ROLE, db_session
from views.ux import created_message, deleted_message, flash_instead, row_label, saved_message

__all__ = ["WritesPart", "BulkDeleteForm", "MAX_BULK_DELETE"]

log = logging.getLogger(__name__)

#: Most rows one confirmation page deletes (Flask-Admin's list selects one page anyway).
MAX_BULK_DELETE = 1000


class BulkDeleteForm(SecureForm):
    """Confirmation of a bulk delete: the reason, and where to go back to."""

    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)],
                           description="Recorded in the audit trail with every deleted row.")
    typed = StringField("Confirmation", validators=[Optional(), Length(max=2000)])
    token = HiddenField()
    url = HiddenField()


class WritesPart(DeclaredActions):
    """Part of :class:`~views.base.ReflectedModelView`: audited saves and deletes (see the module docstring)."""

    # -- the saves ---------------------------------------------------------------------------

    def create_model(self, form):
        if approval_role(self, "create"):  # two-person approval: held, not applied
            return hold_create(self, form, reason_given())
        with audit_action(reason=reason_given()):
            return super().create_model(form)

    def update_model(self, form, model):
        expected = submitted_value(form, VERSION_FIELD)
        if expected:
            refused = stale_edit(db_session(self), model, expected)
            if refused:
                flash(refused, "error")
                return False
        if approval_role(self, "edit"):  # two-person approval: held, not applied
            return hold_edit(self, form, model, reason_given())
        with audit_action(reason=reason_given()):
            return super().update_model(form, model)

    def delete_model(self, model):
        if reason_required(self, "delete") and not reason_given():  # delete_view sends these to the page
            flash(missing_reason(self, "delete"), "error")
            return False
        if approval_role(self, "delete"):  # two-person approval: held, not applied
            hold_delete(self, [model], reason_given())
            return True
        label = row_label(self, model)
        with audit_action(reason=reason_given()):
            deleted = super().delete_model(model)
        if deleted and request.endpoint == f"{self.endpoint}.delete_view":
            flash_instead(deleted_message(self.screen, [label]), "success")
        return deleted

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        nonce = submitted_value(form, NONCE_FIELD, 64)
        if is_created and nonce:
            record_submission(db_session(self), nonce, current_operator().username, str(self.screen))
        if not is_created:  # which fields this save changes, for its message
            state = sa_inspect(model)
            g.backoffice_changed = sorted(
                attr.key for attr in state.mapper.column_attrs if state.attrs[attr.key].history.has_changes())

    def after_model_change(self, form, model, is_created):
        super().after_model_change(form, model, is_created)
        changed = g.pop("backoffice_changed", None) or []
        if request.endpoint not in (f"{self.endpoint}.create_view", f"{self.endpoint}.edit_view"):
            return  # inline edits answer with their own text, not a flash
        row = row_label(self, model)
        message = created_message(self.screen, row) if is_created else saved_message(self.screen, row, changed)
        flash_instead(message, "success")  # in place of "Record was successfully saved."

    @expose("/delete/", methods=("POST",))
    def delete_view(self):
        """A single delete; when the screen asks for a typed confirmation, or for a reason
        the request lacks, or when the database would delete or change other rows with it
        that the operator was not shown (the list's row button; the details page shows
        them and says so with ``cascade_seen``), the answer is the confirmation page for
        that row, listing what cascades (reason kept)."""
        ids = [i for i in request.form.getlist("id") if i.strip()][:1]
        missing = reason_required(self, "delete") and not reason_given()
        models = None
        if not (self.confirm_delete or missing) and not request.form.get("cascade_seen") and self.can_delete:
            models = [m for m in map(self.get_one, ids) if m is not None]
            if not (models and self.cascade_of(models).effects):
                return super().delete_view()
        elif not (self.confirm_delete or missing):
            return super().delete_view()
        form = BulkDeleteForm(url=get_redirect_target() or self.get_url(".index_view"))
        form.reason.data = reason_given() or ""
        form.typed.data = ""
        if missing and not self.confirm_delete:
            flash(missing_reason(self, "delete"), "error")
        if models is None:
            models = [m for m in map(self.get_one, ids) if m is not None]
        return self._delete_page(ids, models, form, 200)

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self):
        if reason_required(self, "edit") and not reason_given():
            return missing_reason(self, "edit") + " Inline edits carry no reason: use the edit form.", 422
        if approval_role(self, "edit"):
            return "Changes of this screen wait for another operator's approval: edit the record's form.", 422
        response = super().ajax_update()
        if isinstance(response, tuple) and response[1] == 500:
            # a refused or invalid change is the operator's to fix, not a server fault
            return response[0], 422
        return response

    # -- deleting many rows ------------------------------------------------------------------

    @action("delete", "Delete", None)
    def action_delete(self, ids):
        """Selected rows -> the confirmation page (deleting happens there, in one transaction)."""
        return redirect(self.get_url(".bulk_delete_view", id=list(ids), url=get_redirect_target()))

    @expose("/bulk-delete/", methods=("GET", "POST"))
    def bulk_delete_view(self):
        if not self.can_delete or not self.is_action_allowed("delete"):
            abort(404)
        return_url = get_redirect_target() or self.get_url(".index_view")
        ids = [i for i in request.values.getlist("id") if i.strip()][:MAX_BULK_DELETE]
        models = [m for m in (self.get_one(i) for i in ids) if m is not None]
        form = BulkDeleteForm(url=return_url)
        status = 200
        if request.method == "POST" and form.validate_on_submit() and models:
            refusal = self._delete_refusal(ids, models, form)
            if refusal is not None:
                flash(refusal, "error")
                status = 422
            else:
                labels = [row_label(self, m) for m in models]
                if approval_role(self, "delete"):  # two-person approval: held, not applied
                    hold_delete(self, models, form.reason.data)
                    return redirect(return_url)
                if self._delete_all(models, form.reason.data):
                    flash(deleted_message(self.screen, labels), "success")
                    return redirect(return_url)
                status = 422
        elif request.method == "POST" and not models:
            flash("None of the selected records exists any more.", "error")
            status = 422
        elif request.method == "POST":
            status = 422  # CSRF or a too-long field: the form says which
        return self._delete_page(ids, models, form, status)

    def _delete_refusal(self, ids: list[str], models: list, form: BulkDeleteForm) -> str | None:
        """Why this POST may not delete ``models`` (checked on the server), or None."""
        if self.confirm_delete:
            refused = selection_refusal(self, form.token.data, ids)
            if refused:
                return refused
            wanted = expected_typed(self, models)
            if (form.typed.data or "").strip() != wanted:
                return f"The confirmation does not match; nothing was deleted. {typed_prompt(self, models)}"
        if reason_required(self, "delete") and not (form.reason.data or "").strip():
            return missing_reason(self, "delete")
        return None

    def _delete_page(self, ids: list[str], models: list, form: BulkDeleteForm, status: int):
        """The confirmation page: the rows, what cascades, the reason and, when declared, the
        typed confirmation with a fresh token signed over exactly these ids."""
        if self.confirm_delete:
            form.token.data = sign_selection(self, ids)
        cascade = self.cascade_of(models)
        return self.render("backoffice/audit/bulk_delete.html", form=form, models=models, ids=ids,
                           return_url=form.url.data or self.get_url(".index_view"),
                           row_ids=[self._entity_id(m) for m in models], cascade=cascade,
                           reason_required=reason_required(self, "delete"),
                           typed_prompt=typed_prompt(self, models) if self.confirm_delete and models else None), \
            status

    def _delete_all(self, models, reason: str | None) -> bool:
        session = db_session(self)
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
        return delete_preview(db_session(self), list(models), current_app.extensions["backoffice.reflection"])

    # -- the trail ---------------------------------------------------------------------------

    def _entity_id(self, model) -> str:
        value = self.get_pk_value(model)
        return entity_id(list(value) if isinstance(value, tuple) else [value])

    def audit_history_url(self, model) -> str | None:
        """The audit history of one record (the detail page's "History" link); None when
        the operator may not read the audit history."""
        if not current_operator().may(AUDIT_VIEW_ROLE):
            return None
        return url_for("audit.index_view", table=self.entry.qualified_name, entity=self._entity_id(model))
