"""Alert times: RFC 3339 text to the instant (naive UTC), shared by every reader of alerts and changes."""

from __future__ import annotations

import datetime as dt
import functools
import re

# RFC 3339 as Alertmanager writes it: 2026-12-01T19:53:08.123456789Z or with an offset.
_TIME_RE = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")
_ZERO_TIME_YEAR = 1  # Alertmanager's "0001-01-01T00:00:00Z": no end yet
# Alert times outside this range are errors (they would not fit pandas' nanosecond timestamps, and
# an alert from before 1970 or after 2199 is a broken clock, not an incident).
EARLIEST, LATEST = dt.datetime(1970, 1, 1), dt.datetime(2200, 1, 1)


@functools.lru_cache(maxsize=65536)  # alerts of one batch share few distinct times
def parse_time(value: str) -> dt.datetime | None:
    """RFC 3339 text -> the instant as naive UTC (microseconds); Alertmanager's zero time and
    anything that is not a time -> None. Ranges are checked by the caller."""
    m = _TIME_RE.fullmatch(value)
    if not m:
        return None
    date, clock, fraction, zone = m.groups()
    micros = (fraction or ".0")[1:7].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z", "z") else zone
    try:
        parsed = dt.datetime.fromisoformat(f"{date}T{clock}.{micros}{offset}")
    except ValueError:
        return None
    if parsed.year <= _ZERO_TIME_YEAR:
        return None
    try:
        return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    except OverflowError:  # 9999-12-31T23:59:59-01:00
        return dt.datetime.max
