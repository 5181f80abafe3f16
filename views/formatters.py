"""Value and link formatters a maintainer attaches to columns in the declarative file.

``formatters = { overview = { kind = "truncate", length = 80 }, status = "badge" }``
and ``links = { tmdb_id = "https://www.themoviedb.org/movie/{tmdb_id}" }``. Each
formatter kind declares its arguments (type, default, allowed range) so the checks
can report a bad one precisely; the built functions follow Flask-Admin's
``(view, context, model, name)`` signature and escape everything they render.
"""
from __future__ import annotations

import datetime as dt
import decimal
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from views.columns import category_of  # one classification of types, shared with the screens
from views.display import hover_text

__all__ = ["Argument", "FormatterKind", "FORMATTERS", "BADGE_COLORS", "build_formatter", "build_link",
           "parse_template", "TemplateError", "type_family"]

#: Bootstrap 4 badge colours a badge formatter may use.
BADGE_COLORS = ("primary", "secondary", "success", "danger", "warning", "info", "light", "dark")


@dataclass(frozen=True)
class Argument:
    """One argument of a formatter kind: its type, default and (for ints) range."""

    kind: type
    default: Any
    minimum: int | None = None
    maximum: int | None = None
    help: str = ""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is unacceptable, or None."""
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return f"expected an integer, got {value!r}"
        if self.kind is not int and not isinstance(value, self.kind):
            return f"expected {self.kind.__name__}, got {value!r}"
        if self.kind is int and ((self.minimum is not None and value < self.minimum)
                                 or (self.maximum is not None and value > self.maximum)):
            return f"expected an integer between {self.minimum} and {self.maximum}, got {value}"
        if self.kind is dict:
            bad = [f"{k} = {v!r}" for k, v in value.items() if v not in BADGE_COLORS]
            if bad:
                return f"unknown colour {bad[0]}; expected one of: {', '.join(BADGE_COLORS)}"
        return None


@dataclass(frozen=True)
class FormatterKind:
    """A named formatter: its arguments, the column type families it fits, its renderer."""

    name: str
    help: str
    fits: tuple[str, ...]
    render: Callable[[Any, dict[str, Any]], Any]
    arguments: dict[str, Argument] = field(default_factory=dict)


#: The coarse families the declaration checks reason about, from the column plans' categories.
_FAMILIES = {"boolean": "bool", "datetime": "datetime", "date": "date", "time": "time", "integer": "integer",
             "numeric": "number", "float": "number", "string": "text", "text": "text", "enum": "text",
             "uuid": "text"}


def type_family(column_type: Any) -> str:
    """Coarse family of a SQL type: text, integer, number, date, datetime, time, bool, other.
    PostgreSQL domains count as their underlying type."""
    column_type = getattr(column_type, "data_type", None) or column_type
    return _FAMILIES.get(category_of(SimpleNamespace(type=column_type)), "other")


def _date(value: Any, args: dict[str, Any]) -> Any:
    return value.strftime(args["format"]) if isinstance(value, (dt.date, dt.datetime)) else value


def _money(value: Any, args: dict[str, Any]) -> Any:
    if not isinstance(value, (int, float, decimal.Decimal)):
        return value
    amount = decimal.Decimal(str(value)) / (100 if args["cents"] else 1)
    text = f"{amount:,.{args['places']}f}"
    currency = args["currency"]
    return f"{currency} {text}" if len(currency) > 1 else f"{currency}{text}"


def _number(value: Any, args: dict[str, Any]) -> Any:
    if not isinstance(value, (int, float, decimal.Decimal)):
        return value
    return f"{value:,.{args['places']}f}" if args["places"] >= 0 else f"{value:,}"


def _percent(value: Any, args: dict[str, Any]) -> Any:
    if not isinstance(value, (int, float, decimal.Decimal)):
        return value
    return f"{float(value) * 100:.{args['places']}f}%"


def _truncate(value: Any, args: dict[str, Any]) -> Any:
    text = str(value)
    if len(text) <= args["length"]:
        return text
    # The full text stays readable on hover; escape() because this returns markup.
    return Markup('<span title="{}">{}…</span>').format(escape(hover_text(text)), escape(text[: args["length"]].rstrip()))


def _badge(value: Any, args: dict[str, Any]) -> Any:
    color = args["colors"].get(str(value), "secondary")
    return Markup('<span class="badge badge-{}">{}</span>').format(color, escape(str(value)))


def _yesno(value: Any, args: dict[str, Any]) -> Any:
    return args["yes"] if value else args["no"]


_NUMERIC = ("integer", "number")
FORMATTERS: dict[str, FormatterKind] = {kind.name: kind for kind in (
    FormatterKind("date", "a date as text", ("date", "datetime"), _date,
                  {"format": Argument(str, "%Y-%m-%d", help="strftime format")}),
    FormatterKind("datetime", "a timestamp as text", ("datetime",), _date,
                  {"format": Argument(str, "%Y-%m-%d %H:%M", help="strftime format")}),
    FormatterKind("money", "an amount with thousands separators", _NUMERIC, _money,
                  {"currency": Argument(str, "", help="symbol or code shown before the amount"),
                   "places": Argument(int, 2, 0, 6, "decimal places"),
                   "cents": Argument(bool, False, help="the column stores cents")}),
    FormatterKind("number", "a number with thousands separators", _NUMERIC, _number,
                  {"places": Argument(int, -1, -1, 10, "decimal places (-1: as stored)")}),
    FormatterKind("percent", "a 0..1 ratio as a percentage", _NUMERIC, _percent,
                  {"places": Argument(int, 0, 0, 6, "decimal places")}),
    FormatterKind("truncate", "long text cut to a length (full text on hover)", ("text", "other"), _truncate,
                  {"length": Argument(int, 80, 1, 10_000, "characters kept")}),
    FormatterKind("badge", "a status as a coloured badge", ("text", "integer", "bool", "other"), _badge,
                  {"colors": Argument(dict, {}, help="value -> " + "|".join(BADGE_COLORS))}),
    FormatterKind("yesno", "a flag as words", ("bool", "integer"), _yesno,
                  {"yes": Argument(str, "yes"), "no": Argument(str, "no")}),
)}


def build_formatter(spec: str | dict[str, Any], attribute: str) -> Callable[..., Any]:
    """A Flask-Admin column formatter from a (checked) spec; empty text for NULL."""
    spec = {"kind": spec} if isinstance(spec, str) else dict(spec)
    kind = FORMATTERS[spec.pop("kind")]
    args = {name: spec.get(name, argument.default) for name, argument in kind.arguments.items()}

    def format_value(view, context, model, name):
        value = getattr(model, attribute, None)
        return "" if value is None else kind.render(value, args)

    return format_value


class TemplateError(ValueError):
    """A link template that cannot be used (message says why)."""


def parse_template(template: str) -> list[tuple[str, str | None]]:
    """Split a URL template into (literal, column-or-None) pieces.

    Only plain ``{column}`` placeholders: no positional ``{}``, no ``{x.attr}``,
    no ``{x:spec}`` or ``{x!r}`` (format tricks have no place in a URL).
    """
    pieces: list[tuple[str, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"{exc} (write {{{{ and }}}} for literal braces)") from None
    for literal, name, spec, conversion in parsed:
        if name is not None:
            if name == "" or name.isdigit():
                raise TemplateError("positional placeholder '{}': name a column, e.g. '{id}'")
            if spec or conversion or any(ch in name for ch in ".["):
                raise TemplateError(f"placeholder '{{{name}{'!' + conversion if conversion else ''}"
                                    f"{':' + spec if spec else ''}}}' must be a plain column name")
        pieces.append((literal, name))
    return pieces


def build_link(template: str, attributes: dict[str, str], shown: str) -> Callable[..., Any]:
    """A formatter rendering the column as a link; every placeholder value is URL-escaped.
    A row where a placeholder is NULL shows the plain value (a link to nowhere helps no one)."""
    pieces = parse_template(template)

    def format_link(view, context, model, name):
        value = getattr(model, shown, None)
        if value is None:
            return ""
        parts = []
        for literal, column in pieces:
            parts.append(literal)
            if column is not None:
                filled = getattr(model, attributes[column], None)
                if filled is None:
                    return str(value)
                parts.append(quote(str(filled), safe=""))
        href = "".join(parts)
        if not href.lower().startswith(("http://", "https://")):  # checked at start-up; kept as a guard
            return str(value)
        return Markup('<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>').format(href, str(value))

    return format_link
