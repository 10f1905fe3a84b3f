"""Timestamps: RFC 3339 parsing into timezone-aware UTC datetimes."""

import re
from datetime import datetime, timedelta, timezone

__all__ = ["parse_time"]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))\Z"
)


def parse_time(text):
    """An RFC 3339 timestamp (``2024-05-01T12:00:00Z``, ``...12:00:00.123+02:00``) as a
    timezone-aware ``datetime`` in UTC. Fractions beyond microseconds are truncated; a leap
    second (``:60``) reads as the last microsecond of its minute. Raises ``ValueError`` on anything
    else, including a missing offset."""
    if not isinstance(text, str):
        raise ValueError(f"timestamp {text!r} is not a string")
    m = _RFC3339.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    fraction = m.group(7) or ""
    micros = int((fraction + "000000")[:6])
    leap = second == 60
    if leap:
        second, micros = 59, 999999
    try:
        value = datetime(year, month, day, hour, minute, second, micros, tzinfo=timezone.utc)
    except ValueError as e:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp: {e}") from None
    if m.group(9):
        offset = timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        if m.group(9) == "+":
            value -= offset
        else:
            value += offset
    return value
