"""One ``[views.<table>]`` entry checked against one reflected table (a pattern entry is
checked once per table it matches, by :func:`views.checks.check_views`).

Every problem names the option with its index (``views.movies.list[2]``), the wrong
value, a hint and a stable id. A value of the wrong type is simply skipped: option
shapes are checked generically by :mod:`backoffice.core.declarations`.
"""
from __future__ import annotations

from typing import Any


from backoffice.core.declarations import Declarations, Problem, did_you_mean, problem
from views.action_checks import check_actions
from views.safeguards import check_safeguards
from views.columns import UNSORTABLE, category_of
from views.fulltext import check_fulltext
from views.formatters import FORMATTERS, TemplateError, parse_template, type_family
from views.options import COUNT_STRATEGIES, ROLE_CHOICES

__all__ = ["ViewChecker", "sort_keys", "is_pattern"]

_WRITES = (("create", "create"), ("edit", "edit"), ("delete", "delete"))


def _str_list(value: Any) -> list[str]:
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else []


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def sort_keys(value: Any) -> list[str]:
    """The sort option as a list of '[-]column' strings (a single string is one key)."""
    return [value] if isinstance(value, str) else _str_list(value)


def is_pattern(key: str) -> bool:
    """``[views."payment_p*"]`` applies to every matching table (shell-style wildcards)."""
    return any(ch in key for ch in "*?[")


class ViewChecker:
    """Checks one ``[views.<screen>]`` entry; collects its problems."""

    def __init__(self, declarations: Declarations, key: str, screen: str, spec: dict[str, Any], entry: Any,
                 view_class):
        self.d, self.screen, self.spec, self.entry, self.view_class = declarations, screen, spec, entry, view_class
        self.prefix = f'views."{key}"' if is_pattern(key) else f"views.{key}"
        self.columns = {c.name: c for c in entry.table.columns}
        try:
            self.relations = set(entry.relations)  # not the mapper's: that would configure every mapper
        except Exception:  # an unconfigurable mapper is reported by the reflection, not here
            self.relations = set()
        self.never = set(_str_list(spec.get("never_show")))
        self.problems: list[Problem] = []

    def add(self, id: str, option: str, message: str, hint: str | None = None) -> None:
        self.problems.append(problem(id, self.d, f"{self.prefix}.{option}", message, table=self.screen, hint=hint))

    def column(self, option: str, name: str, *, relations: bool = False, secret_ok: bool = False) -> bool:
        """True when ``name`` is a usable column (reporting E012 / E013 otherwise)."""
        known = set(self.columns) | (self.relations if relations else set())
        if name not in known:
            self.add("backoffice.E012", option, f"'{name}' is not a column of '{self.screen}'",
                     did_you_mean(name, known))
            return False
        if name in self.never and not secret_ok:
            self.add("backoffice.E013", option, f"'{name}' is in never_show and cannot be used here",
                     "remove it from never_show or from this option")
            return False
        return True

    def run(self) -> list[Problem]:
        spec = self.spec
        if spec.get("hidden") is True:
            others = [k for k in spec if k != "hidden"]
            if others:
                self.problems.append(problem(
                    "backoffice.W014", self.d, self.prefix,
                    f"hidden = true; the other options ({', '.join(others)}) have no effect", table=self.screen))
        for key in ("label", "category"):
            if isinstance(spec.get(key), str) and not spec[key].strip():
                self.add("backoffice.E017", key, f"{key} must not be empty")
        if isinstance(spec.get("page_size"), int) and not 1 <= spec["page_size"] <= 1000:
            self.add("backoffice.E016", "page_size", f"must be between 1 and 1000, got {spec['page_size']}")
        if isinstance(spec.get("order"), int) and not 0 <= spec["order"] <= 10_000:
            self.add("backoffice.E016", "order", f"must be between 0 and 10000, got {spec['order']}")
        if isinstance(spec.get("count"), str) and spec["count"] not in COUNT_STRATEGIES:
            self.add("backoffice.E015", "count", f"unknown count strategy '{spec['count']}'",
                     did_you_mean(spec["count"], COUNT_STRATEGIES))
        self.roles()
        self.column_lists()
        check_fulltext(self)
        self.sort()
        self.labels()
        self.links()
        self.formatters()
        check_actions(self)
        check_safeguards(self)
        return self.problems

    def roles(self) -> None:
        for key, verb in _WRITES:
            role = self.spec.get(key)
            if not isinstance(role, str):
                continue
            if role not in ROLE_CHOICES:
                self.add("backoffice.E014", key, f"unknown role '{role}'", did_you_mean(role, ROLE_CHOICES))
            elif role != "nobody" and self.spec.get("read_only") is True:
                self.add("backoffice.W010", key, f"'{role}' may {verb}, but the screen is read_only; "
                         "the role has no effect")
            elif role != "nobody" and self.entry.read_only:
                why = self.entry.kind if self.entry.kind in ("view", "materialized view") else "table without a primary key"
                self.add("backoffice.W011", key, f"'{role}' may {verb}, but '{self.screen}' is a {why} "
                         "(read-only in the console); the role has no effect")

    def column_lists(self) -> None:
        for key in ("list", "details", "never_show", "search", "filters", "sortable"):
            seen: dict[str, int] = {}
            for index, name in enumerate(_str_list(self.spec.get(key))):
                option = f"{key}[{index}]"
                if name in seen:
                    self.add("backoffice.E011", option, f"'{name}' is already listed at {key}[{seen[name]}]")
                    continue
                seen[name] = index
                if not self.column(option, name, relations=key in ("list", "details"), secret_ok=key == "never_show"):
                    continue
                column = self.columns.get(name)
                if key == "never_show":
                    self.required_hidden(option, column)
                elif key == "filters" and not self.view_class.filter_converter.convert(
                        type(column.type).__name__, column, name):
                    self.add("backoffice.E030", option, f"cannot filter on '{name}' ({type(column.type).__name__})",
                             "filters work on text, numbers, dates, times, booleans, enums and uuids")
                elif key == "sortable" and category_of(column) in UNSORTABLE:
                    self.add("backoffice.E032", option, f"cannot sort by '{name}' ({type(column.type).__name__})",
                             "sorting works on text, numbers, dates, times, booleans, enums and uuids")
                elif key == "search":
                    family = type_family(column.type)
                    if family in ("integer", "number"):
                        self.add("backoffice.W015", option, f"'{name}' is numeric; search matches its text form "
                                 "and cannot use an index", "consider a filter instead")
                    elif family != "text":
                        self.add("backoffice.E031", option, f"cannot search '{name}': it holds no text ({family})",
                                 "add it to filters instead")

    def required_hidden(self, option: str, column) -> None:
        """A hidden NOT NULL column without default makes the create form unusable."""
        if (self.entry.read_only or self.spec.get("read_only") is True or self.spec.get("create") == "nobody"
                or column.nullable or column.default is not None or column.server_default is not None
                or (column.primary_key and column.autoincrement in (True, "auto")
                    and type_family(column.type) == "integer")):
            return
        self.add("backoffice.W012", option, f"'{column.name}' is required (NOT NULL, no default): "
                 f"creating {self.screen} rows will fail", 'add create = "nobody" or read_only = true')

    def sort(self) -> None:
        value = self.spec.get("sort")
        keys = sort_keys(value)
        for index, key in enumerate(keys):
            option = "sort" if isinstance(value, str) else f"sort[{index}]"
            name = key[1:] if key.startswith("-") else key
            if not name.strip():
                self.add("backoffice.E019", option, f"'{key}' names no column", "write 'column' or '-column'")
            else:
                self.column(option, name)
        if isinstance(value, list) and not value:
            self.add("backoffice.E019", "sort", "sort must name at least one column")

    def labels(self) -> None:
        for name, label in _table(self.spec.get("labels")).items():
            if self.column(f"labels.{name}", name, relations=True) and not isinstance(label, str):
                self.add("backoffice.E018", f"labels.{name}", f"expected a string, got {label!r}")

    def links(self) -> None:
        for name, template in _table(self.spec.get("links")).items():
            option = f"links.{name}"
            if not self.column(option, name):
                continue
            if not isinstance(template, str):
                self.add("backoffice.E018", option, f"expected a URL template string, got {template!r}")
                continue
            if not template.lower().startswith(("http://", "https://")) or len(template.split("://", 1)[1]) == 0:
                self.add("backoffice.E025", option, f"'{template}' is not an http(s) URL",
                         "links must start with http:// or https://")
                continue
            try:
                pieces = parse_template(template)
            except TemplateError as exc:
                self.add("backoffice.E027", option, f"malformed template '{template}': {exc}")
                continue
            for _literal, placeholder in pieces:
                if placeholder is not None and placeholder not in self.columns:
                    self.add("backoffice.E026", option, f"placeholder '{{{placeholder}}}' is not a column of "
                             f"'{self.screen}'", did_you_mean(placeholder, self.columns))
                elif placeholder is not None and placeholder in self.never:
                    self.add("backoffice.E013", option, f"placeholder '{{{placeholder}}}' is in never_show and "
                             "cannot be used here", "remove it from never_show or from this option")

    def formatters(self) -> None:
        links = _table(self.spec.get("links"))
        for name, spec in _table(self.spec.get("formatters")).items():
            option = f"formatters.{name}"
            if not self.column(option, name):
                continue
            if isinstance(spec, dict) and not isinstance(spec.get("kind"), str):
                self.add("backoffice.E018", option, "a formatter table needs kind = \"<formatter>\"")
                continue
            if not isinstance(spec, (str, dict)):
                self.add("backoffice.E018", option, f"expected a formatter name or table, got {spec!r}")
                continue
            kind_name = spec if isinstance(spec, str) else spec["kind"]
            kind = FORMATTERS.get(kind_name)
            if kind is None:
                self.add("backoffice.E020", option, f"unknown formatter '{kind_name}'",
                         did_you_mean(kind_name, FORMATTERS))
                continue
            for arg, value in (spec.items() if isinstance(spec, dict) else ()):
                if arg == "kind":
                    continue
                argument = kind.arguments.get(arg)
                if argument is None:
                    self.add("backoffice.E021", f"{option}.{arg}", f"unknown argument '{arg}' of formatter "
                             f"'{kind_name}'", did_you_mean(arg, kind.arguments) or "it takes no arguments")
                elif (why := argument.problem(value)) is not None:
                    self.add("backoffice.E022", f"{option}.{arg}", why)
            if name in links:
                self.add("backoffice.E028", option, f"'{name}' also has a link; a column takes a link or a "
                         "formatter, not both")
            family = type_family(self.columns[name].type)
            if family not in kind.fits:
                self.add("backoffice.W013", option, f"formatter '{kind_name}' does not fit '{name}' ({family})",
                         f"it fits {', '.join(kind.fits)} columns")
