"""Form fields for column types whose values must survive an unchanged save exactly.

Flask-Admin's own fields drop microseconds and time zones (DateTimeField), hand
strings to UUID columns, and have nothing for intervals: saving an untouched form
would then rewrite the row. These fields render a value so that parsing the
rendered text gives the same Python value back.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, time, timedelta

from wtforms import fields
from wtforms.fields.choices import SelectChoice

from backoffice.core.internals import WidgetText
from backoffice.core.values import JSON_DEPTH_LIMIT, json_depth, opaque

__all__ = ["NullableBooleanField", "IsoDateTimeField", "IsoDateField", "IsoTimeField", "UUIDField", "IntervalField", "PlainTextField", "format_interval", "JSONValueField",
           "ArrayField", "IntegerArrayField", "keep_stored_values"]


class _TextValueField(WidgetText, fields.StringField):
    """A text input holding one typed value; subclasses define parse and render."""

    def _parse(self, text: str):  # pragma: no cover - abstract
        raise NotImplementedError

    def _render(self, value) -> str:
        return str(value)

    def widget_text(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else self._render(self.data)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        text = valuelist[0].strip()
        if not text:
            self.data = None
            return
        try:
            self.data = self._parse(text)
        except ValueError as exc:
            self.data = None
            raise ValueError(f"{self.gettext('Not a valid value')}: {exc}") from None


class IsoDateTimeField(_TextValueField):
    """ISO 8601 date and time, with the offset when the column has a time zone."""

    def _parse(self, text: str) -> datetime:
        return datetime.fromisoformat(text)

    def _render(self, value: datetime) -> str:
        return value.isoformat(sep=" ")


class IsoDateField(_TextValueField):
    """ISO 8601 date (``0001-01-01`` too: strftime writes year 1 as ``1``)."""

    def _parse(self, text: str) -> date:
        return date.fromisoformat(text)

    def _render(self, value: date) -> str:
        return value.isoformat()


class IsoTimeField(_TextValueField):
    """ISO 8601 time of day, microseconds and offset kept."""

    def _parse(self, text: str) -> time:
        return time.fromisoformat(text)

    def _render(self, value: time) -> str:
        return value.isoformat()


_BOOLEANS = {"": None, "true": True, "false": False}
_BOOLEAN_LABELS = (("", "(empty)"), ("true", "Yes"), ("false", "No"))


class NullableBooleanField(fields.SelectField):
    """Yes, no or empty (NULL) for a nullable boolean: a checkbox cannot say NULL, so an
    unchanged save would turn NULL into false."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.pop("choices", None)
        kwargs.pop("coerce", None)
        super().__init__(label, validators, choices=[SelectChoice(v, text) for v, text in _BOOLEAN_LABELS],
                         coerce=lambda text: _BOOLEANS.get(text, text), **kwargs)

    def process_data(self, value):
        self.data = None if value is None else bool(value)

    def process_formdata(self, valuelist):
        if valuelist:
            if valuelist[0] not in _BOOLEANS:
                raise ValueError("expected yes, no or empty")
            self.data = _BOOLEANS[valuelist[0]]

    def pre_validate(self, form):
        pass  # process_formdata accepted only the three choices


class UUIDField(_TextValueField):
    """A UUID as text; the column receives a :class:`uuid.UUID`."""

    def _parse(self, text: str) -> uuid.UUID:
        return uuid.UUID(text)


_INTERVAL = re.compile(r"^(?:(?P<days>-?\d+)\s+days?,?\s*)?(?:(?P<h>-?\d+):(?P<m>\d{1,2})(?::(?P<s>\d{1,2}(?:\.\d+)?))?)?$")


def format_interval(value: timedelta) -> str:
    """``3 days, 4:05:00`` -- the form Python prints and :class:`IntervalField` reads."""
    return str(value)


class IntervalField(_TextValueField):
    """An interval as ``[N days,] H:MM[:SS]``; PostgreSQL months arrive as 30 days."""

    def _parse(self, text: str) -> timedelta:
        match = _INTERVAL.match(text)
        if not match or not any(match.groupdict().values()):
            raise ValueError("expected '[N days,] H:MM[:SS]'")
        parts = match.groupdict()
        return timedelta(days=int(parts["days"] or 0), hours=int(parts["h"] or 0),
                         minutes=int(parts["m"] or 0), seconds=float(parts["s"] or 0))

    def _render(self, value: timedelta) -> str:
        return format_interval(value)


class PlainTextField(_TextValueField):
    """Free text the database validates itself (inet, cidr, macaddr ...)."""

    def _parse(self, text: str) -> str:
        return text


def _parse_json(text: str):
    if ("[" in text or "{" in text) and json_depth(text) > JSON_DEPTH_LIMIT:
        raise ValueError(f"JSON nested deeper than {JSON_DEPTH_LIMIT} levels is not accepted here")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None


class JSONValueField(WidgetText, fields.TextAreaField):
    """A JSON document as text. Unlike Flask-Admin's JSONField, an empty list, an empty
    object, zero and false render as themselves (not as ``{}``), NULL renders empty, and
    a document nested deeper than the console opens is refused with a message."""

    def widget_text(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else json.dumps(self.data, ensure_ascii=False)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        text = valuelist[0]
        if not text.strip():
            self.data = None
            return
        self.data = _parse_json(text)


class ArrayField(_TextValueField):
    """An array as a JSON list: ``["a,b", "say \\"hi\\"", null, ""]``. Every element survives
    the round trip (commas, quotes, backslashes, NULLs, empty strings, nested lists), which a
    comma-separated tag box cannot promise."""

    #: The type of the elements: ``str`` here, ``int`` in :class:`IntegerArrayField`.
    element: type = str

    def _render(self, value) -> str:
        return json.dumps(list(value), ensure_ascii=False)

    def _parse(self, text: str) -> list:
        value = _parse_json(text)
        if not isinstance(value, list):
            raise ValueError('expected a JSON list such as ["a", "b"]')
        self._check(value)
        return value

    def _check(self, items: list) -> None:
        for item in items:
            if isinstance(item, list):
                self._check(item)
            elif item is not None and (type(item) is not self.element):
                kind = "text in double quotes" if self.element is str else "whole numbers"
                raise ValueError(f"every element must be {kind} or null, not {json.dumps(item)}")


class IntegerArrayField(ArrayField):
    """An array of integers as a JSON list: ``[1, null, 3]``."""

    element = int


def keep_stored_values(form, obj):
    """What an edit form must not change by itself, settled once the form holds both the
    stored row and the posted data:

    - a field whose stored value cannot be shown as text (a blob in a text or untyped
      column, text that is not UTF-8, JSON nested too deep) is left out: it would post
      the value's text back and change the row (the details page shows its size);
    - an empty text box over a stored empty string stays an empty string (Flask-Admin
      turns empty input into NULL for nullable columns: an unchanged save would write NULL).
    """
    if obj is None:
        return form
    for field in list(form):
        if opaque(getattr(obj, field.name, None)):
            del form[field.name]
        elif field.object_data == "" and field.data is None and field.raw_data == [""]:
            field.data = ""
    return form
