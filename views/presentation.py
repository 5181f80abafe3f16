"""Presentation: the part of a generated screen that decides what columns show and how.

:class:`PresentationPart` turns the column plans (``views/columns.py``) into Flask-Admin's
column options before Flask-Admin scaffolds the screen (:meth:`plan_columns`), wraps the
formatters with the operator touches of ``views/ux.py`` afterwards
(:meth:`decorate_formatters`), renders list rows fast (``views/rowactions.py``) and owns
the Flask-Admin hooks about what a page or an export shows: ``get_empty_list_message``
and ``get_export_value`` (formula-safe cells, ``views/cells.py``).
"""
from __future__ import annotations

from dataclasses import replace

from views.cells import formula_safe
from views.columns import ColumnPlan, ajax_refs, column_plans, filterable, form_columns, form_overrides, label_for
from views.display import display_value, formatter, link_targets
from views.names import LIST_TEXT_LIMIT
from views.record import history, references
from views.rowactions import RowRendering
from views.ux import decorated

__all__ = ["PresentationPart", "default_list_columns", "LIST_COLUMN_LIMIT", "SHORT_STRING"]

#: At most this many columns in a list nobody tuned; the rest are on the details page.
LIST_COLUMN_LIMIT = 8
#: A string column declared at most this long reads on one line of a list.
SHORT_STRING = 100
#: Categories whose values are short by type (dates, numbers, flags, identifiers).
_SHORT = frozenset({"integer", "numeric", "float", "boolean", "date", "datetime", "time", "interval", "enum",
                    "uuid", "network"})


def default_list_columns(plans: list[ColumnPlan], entry, label_keys=()) -> list[str]:
    """The columns a list shows when nobody chose them: the row's label column first, then
    the short typed columns (numbers, dates, booleans, short strings, foreign keys) in
    table order, at most :data:`LIST_COLUMN_LIMIT`. Long text, JSON, arrays and binary
    stay on the details page. A table with nothing short shows its key and first columns
    (cut to one line by the list's cell rendering)."""
    by_key = {p.key: p for p in plans}
    foreign = {c.key for c in entry.table.columns if c.foreign_keys}

    def short(plan: ColumnPlan) -> bool:
        if plan.key in foreign or plan.category in _SHORT:
            return True
        if plan.category == "string":
            length = getattr(entry.table.c[plan.key].type, "length", None)
            return bool(length) and length <= SHORT_STRING
        return False

    chosen = [k for k in label_keys if k in by_key]
    chosen += [p.key for p in plans if p.key not in chosen and short(p)]
    if len(chosen) < 2:  # nothing short: still a recognisable row
        keys = [k for k in entry.primary_key_attributes if k in by_key]
        chosen += [k for k in keys + [p.key for p in plans] if k not in chosen]
    return chosen[:LIST_COLUMN_LIMIT]


class PresentationPart(RowRendering):
    """Part of :class:`~views.base.ReflectedModelView`: column options, value rendering, exports."""

    #: Attribute names never shown anywhere (the file's ``never_show``): left out of
    #: every generated list, filter, form and export.
    never_show: frozenset[str] = frozenset()
    #: Columns a review queue owns (column name -> Owned(reason, on_create), queues/ownership.py):
    #: shown, never edited here; ones an effect changes on another table may still be given on create.
    owned_columns: dict = {}
    column_plans: list[ColumnPlan]

    # -- Flask-Admin hooks -------------------------------------------------------------------

    def get_empty_list_message(self) -> str:
        return f"{getattr(self, 'screen', self.name)} has no rows yet."

    def get_export_value(self, model, name):
        """The exported cell: the export formatter's value, never a live spreadsheet formula."""
        return formula_safe(super().get_export_value(model, name))

    # -- the details page (views/record.py) ---------------------------------------------------

    def record_references(self, model):
        """The rows referencing ``model``, per table the operator may see (bounded)."""
        return references(self, model)

    def record_history(self, model):
        """``model``'s newest audit events, or None when the operator may not read them."""
        return history(self, model)

    # -- called by the screen's constructor --------------------------------------------------

    def plan_columns(self, model) -> None:
        """Fill list, detail, form and filter options from the column plans, before
        Flask-Admin scaffolds anything. Options a maintainer already set (class
        attributes, the declarative file) win."""
        entry = self.entry
        plans = [p for p in column_plans(entry) if p.key not in self.never_show]
        owned = self.owned_columns
        if owned:
            plans = [replace(p, editable=False, reason=owned[p.name].reason)
                     if p.name in owned and not owned[p.name].on_create else p for p in plans]
            name_of = {p.key: p.name for p in plans}
            if self.column_editable_list:
                self.column_editable_list = [c for c in self.column_editable_list if name_of.get(c) not in owned]
            if self.form_columns:
                self.form_columns = [c for c in self.form_columns
                                     if name_of.get(c) not in owned or owned[name_of[c]].on_create]
        self.column_plans = plans
        links = link_targets(entry, model)
        self.column_labels = {**{p.key: p.label for p in plans}, **(self.column_labels or {})}
        for rel in model.__mapper__.relationships:
            self.column_labels.setdefault(rel.key, label_for(rel.key))
        if self.column_default_sort == [(name, False) for name in entry.primary_key]:
            # the base view's key order, in SQL names; sorting needs attribute names
            self.column_default_sort = [(key, False) for key in entry.primary_key_attributes]
        if self.column_list is None:
            self.column_list = default_list_columns(plans, entry, getattr(model, "__label_keys__", ()))
        if getattr(self, "column_export_list", None) is None:
            self.column_export_list = [p.key for p in plans]  # an export keeps every column, as before
        if self.column_details_list is None:
            self.column_details_list = [p.key for p in plans]
        # Derived, not declared: on a large table only indexed ones are offered (views/reading.py).
        self.sortable_defaulted = self.column_sortable_list is None
        self.filters_defaulted = self.column_filters is None
        if self.column_sortable_list is None:
            self.column_sortable_list = [p.key for p in plans if p.sortable]
        own = dict(self.column_formatters or {})  # a custom class's or the file's: they win everywhere
        self.column_formatters = {
            **{p.key: formatter(p, links.get(p.key), LIST_TEXT_LIMIT) for p in plans}, **own}
        self.column_formatters_detail = {
            **{p.key: formatter(p, links.get(p.key), None) for p in plans}, **own,
            **(self.column_formatters_detail or {})}
        if self.column_formatters_export is None:
            self.column_formatters_export = {
                p.key: (lambda _v, _c, m, _n, p=p: display_value(getattr(m, p.key), p.category, None)) for p in plans}
            # The streaming export applies the same display_value to rows read as tuples (views/export.py).
            self.export_categories = {p.key: p.category for p in plans}
        if self.column_filters is None:
            self.column_filters = filterable(plans, entry, self.filter_converter)
        if not entry.read_only and self.form_columns is None:
            excluded = set(self.form_excluded_columns or ()) | set(self.never_show)
            self.form_columns = form_columns(entry, model, plans, excluded)
            if not self.form_columns:  # Flask-Admin reads an empty list as "every column"
                self.form_excluded_columns = [p.key for p in plans] + [r.key for r in model.__mapper__.relationships]
        if not entry.read_only and self.form_ajax_refs is None:
            self.form_ajax_refs = ajax_refs(model)
        self.form_overrides = {**form_overrides(plans, entry), **(self.form_overrides or {})}

    def decorate_formatters(self) -> None:
        """After Flask-Admin built the screen: timestamps, status badges and cut text around
        whatever formatter each shown column has (a declared one or a link still renders)."""
        lists = dict(self.column_formatters or {})
        for name, _label in self.get_list_columns():
            lists[name] = decorated(lists.get(name), name, in_list=True)
        details = dict(self.column_formatters_detail or self.column_formatters or {})
        for name, _label in self.get_details_columns():
            details[name] = decorated(details.get(name), name, in_list=False)
        self.column_formatters, self.column_formatters_detail = lists, details
