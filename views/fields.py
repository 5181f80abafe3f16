"""Form fields for column types whose values must survive an unchanged save exactly.

Flask-Admin's own fields drop microseconds and time zones (DateTimeField), hand
strings to UUID columns, and have nothing for intervals: saving an untouched form
would then rewrite the row. These fields render a value so that parsing the
rendered text gives the same Python value back.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from wtforms import fields

__all__ = ["IsoDateTimeField", "UUIDField", "IntervalField", "PlainTextField", "format_interval"]


class _TextValueField(fields.StringField):
    """A text input holding one typed value; subclasses define parse and render."""

    def _parse(self, text: str):  # pragma: no cover - abstract
        raise NotImplementedError

    def _render(self, value) -> str:
        return str(value)

    def _value(self) -> str:
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
