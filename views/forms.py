"""Forms: the part of a generated screen that decides what a create or edit form holds.

:class:`FormsPart` owns the Flask-Admin hooks that build, fill and judge forms:
``scaffold_form`` (an optional "reason" input recorded in the audit trail),
``get_create_form`` / ``create_form`` (a one-time ``form_nonce``: a form submitted twice
creates one row), ``get_edit_form`` / ``edit_form`` (primary keys never edited; a
``row_version`` of the row as it was loaded, so a stale edit is refused),
``validate_form`` (a refused form says which fields need attention) and
``create_view`` / ``edit_view`` (a refused POST answers 422, not 200). What a save then
does is the writes part's (``views/writes.py``).
"""
from __future__ import annotations

from flask import request
from flask_admin import expose
from wtforms import StringField
from wtforms.validators import Length, Optional

from views.fields import keep_stored_values
from views.concurrency import NONCE_FIELD, VERSION_FIELD, new_nonce, row_version, with_field
from views.safeguards import missing_reason, reason_required
from views.ux import flash_instead, refused_form_message

__all__ = ["FormsPart", "REASON_FIELD", "reason_given"]

#: Name of the optional "reason" input on create / edit / delete forms.
REASON_FIELD = "audit_reason"


class _ReasonField(StringField):
    """A form input that is recorded in the audit trail, never written to the row."""

    def populate_obj(self, obj, name):
        pass


def reason_given() -> str | None:
    """The operator's reason posted with this request (the "reason" input), if any."""
    return (request.form.get(REASON_FIELD) or "").strip()[:2000] or None


class FormsPart:
    """Part of :class:`~views.base.ReflectedModelView`: form building and form refusals."""

    # -- building --------------------------------------------------------------------------

    def scaffold_form(self):
        form_class = super().scaffold_form()
        if hasattr(form_class, REASON_FIELD):  # a real column of that name wins; no reason input then
            return form_class
        form_class.audit_reason = _ReasonField(
            "Reason for this change", validators=[Optional(), Length(max=2000)],
            description="Optional; recorded in the audit trail.")
        return form_class

    def get_create_form(self):
        return with_field(super().get_create_form(), NONCE_FIELD)

    def get_edit_form(self):
        form = super().get_edit_form()
        owned = [p.key for p in self.column_plans if p.name in self.owned_columns]  # queues/ownership.py
        for key in (*self.entry.primary_key_attributes, *owned):  # a row's identity is never edited
            if key in form.__dict__:
                delattr(form, key)
        return with_field(form, VERSION_FIELD)

    # -- filling ---------------------------------------------------------------------------

    def create_form(self, obj=None):
        form = _mark_reason(super().create_form(obj), reason_required(self, "create"))
        if request.method == "GET" and hasattr(form, NONCE_FIELD):
            getattr(form, NONCE_FIELD).data = new_nonce()
        return form

    def edit_form(self, obj=None):
        form = _mark_reason(keep_stored_values(super().edit_form(obj), obj), reason_required(self, "edit"))
        field = getattr(form, VERSION_FIELD, None)
        if field is not None and obj is not None and request.method == "GET":
            field.data = row_version(obj)
        return form

    # -- judging ---------------------------------------------------------------------------

    def validate_form(self, form):
        valid = super().validate_form(form)
        kind = "create" if request.endpoint.endswith(".create_view") else "edit"
        if request.method == "POST" and request.endpoint.endswith((".edit_view", ".create_view")) \
                and reason_required(self, kind) and not reason_given():
            # refused like any other field: the form comes back with everything typed kept
            field = getattr(form, REASON_FIELD, None)
            if isinstance(field, _ReasonField):
                field.errors = [*field.errors, "A reason is required for this change."]
            else:  # a real column named like the input: no reason can be given here
                flash_instead(missing_reason(self, kind), "danger")
                return False
            valid = False
        if not valid and request.method == "POST" and request.endpoint.endswith((".edit_view", ".create_view")):
            message = refused_form_message(form)
            if message:  # in place of Flask-Admin's "Failed to save record."
                flash_instead(message, "danger")
        return valid

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        return _refused_is_422(super().create_view())

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        return _refused_is_422(super().edit_view())


def _mark_reason(form, required: bool):
    """A required reason says so on the form (the server checks it in ``validate_form``)."""
    field = getattr(form, REASON_FIELD, None)
    if required and isinstance(field, _ReasonField):
        field.flags.required = True
        field.description = "Required; recorded in the audit trail."
        field.render_kw = {**(field.render_kw or {}), "required": True}
    return form


def _refused_is_422(response):
    # Flask-Admin answers a refused POST by rendering the form again (a str); a
    # success is a redirect (a Response object). Only the former changes.
    if request.method == "POST" and isinstance(response, str):
        return response, 422
    return response
