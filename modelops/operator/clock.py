"""Times as the API stores them (RFC 3339, UTC, seconds) and the CRDs' durations (`1h30m`)."""

from __future__ import annotations

import datetime as dt
import re

_DURATION_PART = re.compile(r"([0-9]+)(s|m|h)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def now_iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> dt.datetime | None:
    """A timestamp the API server or this operator wrote; None when absent or unreadable."""
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_duration(text: str) -> dt.timedelta:
    """`1h30m`, `45s` (the CRDs' duration pattern) as a timedelta."""
    return dt.timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text)))
