"""When things happen: hourly intensity of incidents and of shop traffic over the seed window.

All times are int64 seconds since the Unix epoch, UTC (the warehouse stores UTC wall-clock time).
The shop's customers are mostly in North America, so the busy hours are 13:00-03:00 UTC.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

HOUR = 3600
DAY = 86400

# Shop traffic by UTC hour (1.0 = daily average); incidents follow traffic only partly.
_TRAFFIC_BY_HOUR = np.array([1.45, 1.40, 1.25, 1.05, 0.80, 0.55, 0.40, 0.32, 0.30, 0.33, 0.42, 0.55,
                             0.72, 0.90, 1.05, 1.15, 1.22, 1.25, 1.28, 1.32, 1.38, 1.45, 1.50, 1.50])
_TRAFFIC_BY_WEEKDAY = np.array([1.02, 1.00, 0.98, 0.98, 0.95, 1.02, 1.05])  # Monday first
_INCIDENTS_BY_WEEKDAY = np.array([1.10, 1.08, 1.05, 1.03, 0.95, 0.85, 0.82])
# Deploys happen in US office hours on weekdays, hardly on Fridays and weekends.
_DEPLOYS_BY_HOUR = np.array([0.10, 0.05, 0.02, 0.02, 0.02, 0.02, 0.02, 0.03, 0.05, 0.10, 0.20, 0.35,
                             0.50, 0.80, 1.00, 1.00, 0.95, 1.00, 1.00, 0.95, 0.85, 0.60, 0.35, 0.20])
_DEPLOYS_BY_WEEKDAY = np.array([0.90, 1.00, 1.00, 0.95, 0.35, 0.04, 0.03])
_MONTH_FACTOR = np.array([0.90, 0.85, 0.92, 0.95, 0.97, 0.98, 1.02, 1.00, 0.97, 1.02, 1.15, 1.25])


def thanksgiving(year: int) -> dt.date:
    nov1 = dt.date(year, 11, 1)
    return nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21)


def _peak_factors(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(incident factor, traffic factor, deploy factor) per day (days since epoch).

    Cyber week (Thanksgiving to Cyber Monday) and the pre-Christmas rush bring more traffic and
    more incidents; a code freeze over both keeps deploy-caused incidents rare.
    """
    inc = np.ones(days.shape)
    traffic = np.ones(days.shape)
    deploy = np.ones(days.shape)
    dates = days.astype("datetime64[D]")
    years = np.unique(dates.astype("datetime64[Y]").astype(int) + 1970)
    for year in years:
        tg = np.datetime64(thanksgiving(int(year)), "D")
        black_friday, cyber_monday = tg + 1, tg + 4
        cyber_week = (dates >= tg - 3) & (dates <= cyber_monday + 1)
        inc[cyber_week] *= 1.8
        traffic[cyber_week] *= 2.2
        for peak in (black_friday, cyber_monday):
            inc[dates == peak] *= 1.8
            traffic[dates == peak] *= 1.9
        rush = (dates >= np.datetime64(f"{year}-12-10")) & (dates <= np.datetime64(f"{year}-12-23"))
        inc[rush] *= 1.35
        traffic[rush] *= 1.5
        quiet = (dates >= np.datetime64(f"{year}-12-24")) & (dates <= np.datetime64(f"{year}-12-26"))
        inc[quiet] *= 0.7
        traffic[quiet] *= 0.6
        freeze = ((dates >= tg - 7) & (dates <= cyber_monday + 2)) | (
            (dates >= np.datetime64(f"{year}-12-18")) & (dates <= np.datetime64(f"{int(year) + 1}-01-02")))
        deploy[freeze] *= 0.08
    return inc, traffic, deploy


class Calendar:
    """Hourly bins from start to as_of with incident, deploy and traffic weights."""

    def __init__(self, start: int, as_of: int) -> None:
        self.start, self.as_of = start, as_of
        self.hours = np.arange(start, as_of, HOUR, dtype=np.int64)
        days = self.hours // DAY
        hour = (self.hours % DAY) // HOUR
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        month = days.astype("datetime64[D]").astype("datetime64[M]").astype(int) % 12
        inc, traffic, deploy = _peak_factors(days)
        base_traffic = _TRAFFIC_BY_HOUR[hour] * _TRAFFIC_BY_WEEKDAY[weekday] * _MONTH_FACTOR[month]
        self.traffic = base_traffic * traffic
        # Half of incidents are load-driven, half arrive regardless of traffic.
        self.general = (0.5 + 0.5 * self.traffic) * _INCIDENTS_BY_WEEKDAY[weekday] * inc
        self.deploy = _DEPLOYS_BY_HOUR[hour] * _DEPLOYS_BY_WEEKDAY[weekday] * deploy
        self.peak = (traffic > 1.4)

    def sample(self, rng: np.random.Generator, n: int, deploy: bool) -> np.ndarray:
        weights = self.deploy if deploy else self.general
        bins = rng.choice(len(self.hours), size=n, p=weights / weights.sum())
        start = self.hours[bins]
        offset = rng.integers(0, HOUR, size=n)
        # The last bin may end before its hour does (a seed run at 10:25 ends at 10:25): fold the offset into
        # what is left of it, so nothing is created after as_of; the random stream stays the same.
        return start + offset % np.minimum(HOUR, self.as_of - start)

    def _bin(self, times: np.ndarray) -> np.ndarray:
        return np.clip((times - self.start) // HOUR, 0, len(self.hours) - 1)

    def traffic_at(self, times: np.ndarray) -> np.ndarray:
        return self.traffic[self._bin(times)]

    def is_peak(self, times: np.ndarray) -> np.ndarray:
        return self.peak[self._bin(times)]

    def is_night(self, times: np.ndarray) -> np.ndarray:
        """US night (04:00-12:00 UTC): non-critical pages wait for the morning."""
        hour = (times % DAY) // HOUR
        return (hour >= 4) & (hour < 12)
