"""The report's period: which incidents the period sections count, the previous period they are
compared with, and the window of the trend charts. Date arithmetic on the parameters only: every
figure is computed by SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from incidents.errors import ConfigError

DEFAULT_DAYS = 28  # four weeks: what a weekly ops review looks back on
TREND_MONTHS = 12
TREND_WEEKS = 26


@dataclass(frozen=True)
class Period:
    """Days `start` to `end`, both included."""

    start: dt.date
    end: dt.date

    @property
    def end_exclusive(self) -> dt.date:
        return self.end + dt.timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Period:
        """The same number of days right before this period."""
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))

    def to_dict(self) -> dict[str, str | int]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "days": self.days}


@dataclass(frozen=True)
class TrendWindow:
    """First month and first week of the trend charts: at least 12 months / 26 weeks up to the
    period's end, further back when the period starts earlier."""

    months_from: dt.date
    weeks_from: dt.date

    @classmethod
    def ending(cls, period: Period) -> TrendWindow:
        month = period.end.replace(day=1)
        for _ in range(TREND_MONTHS - 1):
            month = (month - dt.timedelta(days=1)).replace(day=1)
        monday = period.end - dt.timedelta(days=period.end.weekday())
        weeks = monday - dt.timedelta(weeks=TREND_WEEKS - 1)
        return cls(min(month, period.start.replace(day=1)),
                   min(weeks, period.start - dt.timedelta(days=period.start.weekday())))

    def to_dict(self) -> dict[str, str]:
        return {"months_from": self.months_from.isoformat(), "weeks_from": self.weeks_from.isoformat()}


def parse_date(text: str | dt.date | None, option: str) -> dt.date | None:
    """A YYYY-MM-DD option value; anything else is the user's mistake (one line, exit 2)."""
    if text is None or isinstance(text, dt.date):
        return text.date() if isinstance(text, dt.datetime) else text
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"expected a date as YYYY-MM-DD, got {text!r}", key=option) from None


def resolve_period(start: dt.date | None, end: dt.date | None, last_day: dt.date | None) -> Period:
    """--from/--to with their defaults: the period ends on the last day with incidents (today when
    there are none) and lasts DEFAULT_DAYS; a --from alone runs to that same default end."""
    if end is None:
        end = last_day or dt.datetime.now(dt.timezone.utc).date()
        if start is not None and start > end:
            end = start
    if start is None:
        start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
    check_dates(start, end)
    return Period(start, end)


def check_dates(start: dt.date | None, end: dt.date | None) -> None:
    """Refuse, before any query, dates the period cannot be built from: the user's mistake (exit 2)."""
    for day, option in ((start, "--from"), (end, "--to")):
        if day is not None and not 1900 <= day.year <= 9000:  # previous period and trend window stay dates
            raise ConfigError(f"expected a date from 1900 to 9000, got {day.isoformat()}", key=option)
    if start is not None and end is not None and start > end:
        raise ConfigError(f"--from {start.isoformat()} is after --to {end.isoformat()}; give a period that "
                          "starts on or before its end", key="--from")
