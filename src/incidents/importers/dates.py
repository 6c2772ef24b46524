"""Dates of a ticketing export: which order (day-first, month-first, year-first), parsed vectorised.

ServiceNow writes dates in the exporting user's format, e.g. `29/2/2016 01:16` or `2016-02-29
01:16:00`. The order is decided from the data: a first field of four digits is year-first, a first
field above 12 is a day (day-first), a second field above 12 is a day (month-first). A file whose
dates fit both orders (no day above 12) is refused with advice rather than guessed; a file with
evidence for both is refused too. `?` and empty are missing (NaT), not errors; a value that is not a
date in the chosen order (`31/31/2016`, `2016-02-30`) is an error for its row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from incidents.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# fields: a, b, c (the date), hour, minute, second, fraction, am/pm
_PATTERN = (r"^\s*(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})"
            r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*([AaPp][Mm])?)?\s*$")
ORDERS = ("day-first", "month-first", "iso")


def evidence(values: Iterable[str]) -> set[str]:
    """The orders these date texts prove: {'iso'}, {'day-first'}, {'month-first'}, several, or none."""
    import pandas as pd

    texts = pd.Series(pd.unique(pd.Series(list(values), dtype=object).dropna()), dtype=object)
    if texts.empty:
        return set()
    parts = texts.str.extract(_PATTERN)
    a, b = parts[0].dropna(), parts[1].dropna()
    found = set()
    if (a.str.len() == 4).any():
        found.add("iso")
    first, second = a[a.str.len() < 4].astype(int), b[a.str.len() < 4].astype(int)
    if (first > 12).any():
        found.add("day-first")
    if (second > 12).any():
        found.add("month-first")
    return found


def decide(found: set[str], sample: str | None) -> str | None:
    """The order the evidence proves; None while undecided; ConfigError when it contradicts itself."""
    if len(found) > 1:
        raise ConfigError(f"the dates are written in more than one order ({', '.join(sorted(found))}); pass "
                          "--date-format day-first, month-first, iso or a strptime pattern", key="--date-format")
    return next(iter(found), None)


def parse(column: pd.Series, order: str, timezone: str = "UTC") -> tuple[pd.Series, pd.Series]:
    """(timestamps as naive UTC, which values were given but are not dates) for one column of text.
    The layout of the first value gives a strptime format for pandas' fast parser; the values it
    misses (another layout in the same file, a one-digit hour) go through the pattern."""
    import pandas as pd

    given = column.notna()
    if not given.any():
        return pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]"), given
    fmt = order if order not in ORDERS else _format_of(str(column[given].iloc[0]), order)
    parsed = pd.to_datetime(column, format=fmt, errors="coerce") if fmt else pd.Series(
        pd.NaT, index=column.index, dtype="datetime64[ns]")
    retry = given & parsed.isna()
    if retry.any() and order in ORDERS:
        parsed = parsed.astype("datetime64[ns]")
        parsed[retry] = _parse_pattern(column[retry].astype(str), order).values
    parsed = _to_utc(parsed.astype("datetime64[ns]"), timezone)
    return parsed, given & parsed.isna()


def _format_of(text: str, order: str) -> str | None:
    """The strptime format of one date text in `order`, e.g. `%d/%m/%Y %H:%M`; None if it fits no layout."""
    import re

    match = re.match(_PATTERN, text)
    if match is None:
        return None
    year = match.group(3)
    fields = {"iso": ("%Y", "%m", "%d"), "day-first": ("%d", "%m", "%Y"), "month-first": ("%m", "%d", "%Y")}[order]
    if order != "iso" and len(year) == 2:
        fields = (*fields[:2], "%y")
    fmt = (f"{fields[0]}{text[match.end(1):match.start(2)]}{fields[1]}{text[match.end(2):match.start(3)]}"
           f"{fields[2]}")
    if match.group(4) is None:
        return fmt
    fmt += ("T" if "T" in text[match.end(3):match.start(4)] else " ") + ("%I" if match.group(8) else "%H") + ":%M"
    if match.group(6) is not None:
        fmt += ":%S"
    if match.group(7) is not None:
        fmt += text[match.start(7) - 1] + "%f"
    return fmt + (" %p" if match.group(8) else "")


def _parse_pattern(texts: pd.Series, order: str) -> pd.Series:
    import pandas as pd

    parts = texts.str.extract(_PATTERN)
    a, b, c = (pd.to_numeric(parts[i], errors="coerce") for i in (0, 1, 2))
    if order == "iso":
        year, month, day = a, b, c
    elif order == "day-first":
        day, month, year = a, b, c
    else:
        month, day, year = a, b, c
    year = year.where(year >= 100, year + 2000)  # two-digit years: 16 -> 2016
    hour = pd.to_numeric(parts[3], errors="coerce").fillna(0)
    half = parts[7].str.lower()
    bad_half = half.notna() & ((hour < 1) | (hour > 12))
    hour = hour.where(half.isna(), hour % 12 + (half == "pm") * 12)
    frame = pd.DataFrame({
        "year": year, "month": month, "day": day, "hour": hour,
        "minute": pd.to_numeric(parts[4], errors="coerce").fillna(0),
        "second": pd.to_numeric(parts[5], errors="coerce").fillna(0),
        "ns": pd.to_numeric(parts[6].str.ljust(9, "0"), errors="coerce").fillna(0),
    })
    valid = frame[["year", "month", "day"]].notna().all(axis=1) & ~bad_half & (frame["hour"] <= 23)
    stamps = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[ns]")
    if valid.any():
        stamps[valid] = pd.to_datetime(frame[valid], errors="coerce")
    return stamps


def _to_utc(stamps: pd.Series, timezone: str) -> pd.Series:
    """Wall-clock times of `timezone` as naive UTC. A time that does not exist (spring forward) moves
    forward; one that exists twice (fall back) is read as the later, standard-time one."""
    if timezone == "UTC":
        return stamps
    import numpy as np

    local = stamps.dt.tz_localize(timezone, ambiguous=np.zeros(len(stamps), dtype=bool),
                                  nonexistent="shift_forward")
    return local.dt.tz_convert("UTC").dt.tz_localize(None)


def parse_iso(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 with an offset (Jira's `2017-02-28T09:24:59.366-0600`) as naive UTC, and the bad ones."""
    import pandas as pd

    given = column.notna()
    parsed = pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce").dt.tz_localize(None)
    return parsed.astype("datetime64[ns]"), given & parsed.isna()


def epoch_millis(value: object) -> dt.datetime | None:
    """Jira Service Management's `epochMillis` as naive UTC."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def parse_arrow(values: pa.Array, order: str, timezone: str = "UTC") -> tuple[pa.Array, pa.Array]:
    """`parse` for an Arrow string array (naive UTC timestamps, and which given values are not dates).
    Arrow's strptime is ~20x faster than pandas' but rolls impossible dates over (30/2 -> 1/3), so its
    day and month are compared with the text's; what it misses goes through the pattern with pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    given = pc.is_valid(values)
    kind = pa.timestamp("ns")
    if not pc.any(given).as_py():
        return pa.nulls(len(values), kind), pa.array([False] * len(values))
    if order not in ORDERS:  # a strptime pattern: pandas checks the calendar itself
        import pandas as pd

        stamps = pa.array(pd.to_datetime(values.to_pandas(), format=order, errors="coerce"), kind)
    else:
        stamps = _arrow_strptime(values, order, given)
    if timezone != "UTC":
        local = pc.assume_timezone(stamps, timezone=timezone, ambiguous="latest", nonexistent="latest")
        stamps = local.cast(pa.timestamp("ns", tz="UTC")).cast(kind)
    return stamps, pc.and_(given, pc.is_null(stamps))


def _arrow_strptime(values: pa.Array, order: str, given: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = pa.timestamp("ns")
    first = pc.filter(values, given)[0].as_py()
    fmt = _format_of(str(first), order)
    stamps = pc.strptime(values, format=fmt, unit="ns", error_is_null=True) if fmt else pa.nulls(len(values), kind)
    parts = pc.extract_regex(values, r"^\s*(?P<a>\d{1,4})[-/.](?P<b>\d{1,2})[-/.](?P<c>\d{1,4})")
    fields = {name: pc.cast(pc.struct_field(parts, name), pa.int64()) for name in ("a", "b", "c")}
    day, month = {"iso": ("c", "b"), "day-first": ("a", "b"), "month-first": ("b", "a")}[order]
    same = pc.and_(pc.equal(pc.day(stamps), fields[day]), pc.equal(pc.month(stamps), fields[month]))
    stamps = pc.if_else(pc.fill_null(same, False), stamps, pa.nulls(len(values), kind))
    retry = pc.and_(given, pc.is_null(stamps))
    if pc.any(retry).as_py():
        import pandas as pd

        positions = pc.indices_nonzero(retry)
        texts = pd.Series(pc.take(values, positions).to_pylist(), dtype=object)
        again = pa.array(_parse_pattern(texts, order), kind)
        mask = [False] * len(values)
        for i in positions.to_pylist():
            mask[i] = True
        stamps = pc.replace_with_mask(stamps, pa.array(mask), again)
    return stamps
