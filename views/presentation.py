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
from views.rowactions import RowRendering
from views.ux import decorated

__all__ = ["PresentationPart"]


class PresentationPart(RowRendering):
    """Part of :class:`~views.base.ReflectedModelView`: column options, value rendering, exports."""

    #: Attribute names never shown anywhere (the file's ``never_show``): left out of
    #: every generated list, filter, form and export.
    never_show: frozenset[str] = frozenset()
    #: Columns a review queue owns (column name -> why): shown, never edited here.
    owned_columns: dict[str, str] = {}
    column_plans: list[ColumnPlan]

    # -- Flask-Admin hooks -------------------------------------------------------------------

    def get_empty_list_message(self) -> str:
        return f"{getattr(self, 'screen', self.name)} has no rows yet."

    def get_export_value(self, model, name):
        """The exported cell: the export formatter's value, never a live spreadsheet formula."""
        return formula_safe(super().get_export_value(model, name))

    # -- called by the screen's constructor --------------------------------------------------

    def plan_columns(self, model) -> None:
        """Fill list, detail, form and filter options from the column plans, before
        Flask-Admin scaffolds anything. Options a maintainer already set (class
        attributes, the declarative file) win."""
        entry = self.entry
        plans = [p for p in column_plans(entry) if p.key not in self.never_show]
        if self.owned_columns:
            plans = [replace(p, editable=False, reason=self.owned_columns[p.name]) if p.name in self.owned_columns
                     else p for p in plans]
            owned_keys = {p.key for p in plans if p.name in self.owned_columns}
            for option in ("column_editable_list", "form_columns"):
                if getattr(self, option, None):
                    setattr(self, option, [c for c in getattr(self, option) if c not in owned_keys])
        self.column_plans = plans
        links = link_targets(entry, model)
        self.column_labels = {**{p.key: p.label for p in plans}, **(self.column_labels or {})}
        for rel in model.__mapper__.relationships:
            self.column_labels.setdefault(rel.key, label_for(rel.key))
        if self.column_default_sort == [(name, False) for name in entry.primary_key]:
            # the base view's key order, in SQL names; sorting needs attribute names
            self.column_default_sort = [(key, False) for key in entry.primary_key_attributes]
        if self.column_list is None:
            self.column_list = [p.key for p in plans]
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
