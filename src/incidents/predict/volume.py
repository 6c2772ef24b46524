"""The local model tier for volume: Holt-Winters (statsmodels) on incidents per day, with a damped
additive trend and a multiplicative weekly season, plus the Black Friday / Cyber Monday peak as
factors: the peak days (Black Friday to Cyber Monday) and the days of Thanksgiving week before them
are divided by their factor before fitting (so the surge does not lift the level of the weeks after)
and multiplied by it in the forecast. Weeks are sums of simulated daily paths, so the 80% interval
holds the uncertainty of the whole week.

The factors come from the history when it holds a Black Friday (the peak-to-baseline ratio of
v_peak_event_comparison: those days against the 28 days from 35 to 8 days before Black Friday), else
the peak days get config/predict.yml's forecast.peak_factor (a guess, said so in the result) and the
days before them 1."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from incidents.project.deployment import Deployment
from incidents.sql.session import Session

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MODEL_NAME = "statsmodels_holt_winters"
SEASON = 7
PATHS = 500  # simulated paths behind each interval
_PARAMS = ("smoothing_level", "smoothing_trend", "smoothing_seasonal", "damping_trend")
# The level may move by at most a tenth of each day's surprise. Left free, the fit (one-day-ahead
# errors) chases day-to-day noise, and the weekly totals weeks ahead are what is forecast: on the seeded
# history a free level gave 3.7% weekly MAPE over 8 origins, bounded 2.0%, the SQL baseline 2.1%.
LEVEL_BOUNDS = {"smoothing_level": (0.0, 0.1)}


def dates(series: pd.Series) -> Any:
    """The calendar day of each point of a daily series (its index is a DatetimeIndex)."""
    import pandas as pd

    return pd.DatetimeIndex(series.index).date


def black_friday(year: int) -> dt.date:
    """The day after US Thanksgiving, the fourth Thursday of November."""
    nov1 = dt.date(year, 11, 1)
    return nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 22)


def peak_mask(days: pd.DatetimeIndex) -> np.ndarray:
    """True on Black Friday to Cyber Monday (4 days), any year."""
    return _offsets(days, 0, 3)


def thanksgiving_week_mask(days: pd.DatetimeIndex) -> np.ndarray:
    """True on Monday to Thursday of Thanksgiving week (the 4 days before Black Friday)."""
    return _offsets(days, -4, -1)


def _offsets(days: pd.DatetimeIndex, first: int, last: int) -> np.ndarray:
    import numpy as np

    dates = days.date
    starts = {y: black_friday(y) for y in {d.year for d in dates}}
    return np.array([first <= (d - starts[d.year]).days <= last for d in dates], dtype=bool)


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def daily_counts(session: Session, dep: Deployment) -> pd.Series:
    """Incidents per UTC day from the first to the last day with incidents, empty days as 0."""
    import pandas as pd

    from incidents.predict.baseline import daily_sql
    from incidents.predict.frames import fetch_frame

    frame = fetch_frame(session, daily_sql(dep), obj="daily incident counts")
    if frame.empty:
        return pd.Series(dtype=float)
    series = pd.Series(frame["incidents"].to_numpy(dtype=float), index=pd.DatetimeIndex(pd.to_datetime(frame["day"])))
    return series.asfreq("D", fill_value=0.0)


def complete_days(series: pd.Series) -> pd.Series:
    """All days but the last (the last day with incidents may not be over)."""
    return series.iloc[:-1]


def complete_weeks(series: pd.Series) -> pd.Series:
    """The days before the week holding the last day (that week is not over yet)."""
    if series.empty:
        return series
    return series[dates(series) < week_start(series.index[-1].date())]


def peak_factors(series: pd.Series, default: float) -> tuple[float, float, str]:
    """(peak-day factor, Thanksgiving-week factor, "history" or "config"): the latest Black Friday with
    its days and baseline window in the series, as v_peak_event_comparison measures the peak."""
    for year in sorted({d.year for d in dates(series)}, reverse=True):
        bf = black_friday(year)
        peak = series[str(bf):str(bf + dt.timedelta(days=3))]
        before = series[str(bf - dt.timedelta(days=4)):str(bf - dt.timedelta(days=1))]
        base = series[str(bf - dt.timedelta(days=35)):str(bf - dt.timedelta(days=8))]
        if len(peak) == 4 and len(before) == 4 and len(base) == 28 and base.sum() > 0:
            per_day = base.sum() / 28
            return float(peak.sum() / 4 / per_day), float(before.sum() / 4 / per_day), "history"
    return float(default), 1.0, "config"


def _divisors(days: pd.DatetimeIndex, peak: float, week: float) -> np.ndarray:
    import numpy as np

    return np.where(peak_mask(days), peak, np.where(thanksgiving_week_mask(days), week, 1.0))


@dataclass
class VolumeModel:
    start: dt.date  # first day of the training series (the known initial states belong to it)
    seasonal: str  # "mul", or "add" when a day has no incidents
    params: dict[str, float]
    initial_level: float
    initial_trend: float
    initial_seasons: list[float]
    peak_factor: float  # Black Friday to Cyber Monday
    week_factor: float  # Monday to Thursday of Thanksgiving week
    peak_source: str
    days: int


def _model(series: pd.Series, seasonal: str, **known: Any) -> Any:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    return ExponentialSmoothing(series, trend="add", damped_trend=True, seasonal=seasonal, seasonal_periods=SEASON,
                                bounds=LEVEL_BOUNDS, **known)


def fit(series: pd.Series, default_peak_factor: float, peak_history: pd.Series | None = None) -> VolumeModel:
    """Estimate the smoothing parameters and initial states on `series` (complete weeks); the peak
    factor from `peak_history` (every complete day, which may hold a Cyber Monday the complete weeks do
    not yet), else from `series`."""
    import pandas as pd

    factor, week, source = peak_factors(series if peak_history is None else peak_history, default_peak_factor)
    adjusted = series / _divisors(pd.DatetimeIndex(series.index), factor, week)
    seasonal = "mul" if adjusted.min() > 0 else "add"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence notes; the backtest judges the fit
        result = _model(adjusted, seasonal, initialization_method="estimated").fit(use_brute=False)
    p = result.params
    return VolumeModel(start=series.index[0].date(), seasonal=seasonal, params={k: float(p[k]) for k in _PARAMS},
                       initial_level=float(p["initial_level"]), initial_trend=float(p["initial_trend"]),
                       initial_seasons=[float(v) for v in p["initial_seasons"]], peak_factor=factor,
                       week_factor=week, peak_source=source, days=len(series))


def _random(simulate: Any, seed: int) -> dict[str, Any]:
    """statsmodels 0.15 renamed simulate's random_state to rng; both take a RandomState."""
    import inspect

    import numpy as np

    key = "rng" if "rng" in inspect.signature(simulate).parameters else "random_state"
    return {key: np.random.RandomState(seed)}


def forecast(model: VolumeModel, series: pd.Series, weeks: int, *, seed: int = 0) -> pd.DataFrame:
    """Weeks after the last day of `series` (which ends on a Sunday): week_start, weeks_ahead,
    forecast, interval_low, interval_high (P10/P90 of simulated weeks), peak_days. The trained
    parameters are applied to `series` (from the model's first day), not estimated again."""
    import numpy as np
    import pandas as pd

    history = series[dates(series) >= model.start]
    adjusted = history / _divisors(pd.DatetimeIndex(history.index), model.peak_factor, model.week_factor)
    known = {"initialization_method": "known", "initial_level": model.initial_level,
             "initial_trend": model.initial_trend, "initial_seasonal": model.initial_seasons}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _model(adjusted, model.seasonal, **known).fit(optimized=False, **model.params)
        days = SEASON * weeks
        point = result.forecast(days).to_numpy()
        paths = result.simulate(days, repetitions=PATHS, anchor="end", error="add",
                                **_random(result.simulate, seed)).to_numpy()
    future = pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=days, freq="D")
    factor = _divisors(future, model.peak_factor, model.week_factor)
    point = np.clip(point * factor, 0, None).reshape(weeks, SEASON).sum(axis=1)
    sims = np.clip(paths * factor[:, None], 0, None).reshape(weeks, SEASON, PATHS).sum(axis=1)
    return pd.DataFrame({
        "week_start": [d.date() for d in future[::SEASON]],
        "weeks_ahead": np.arange(1, weeks + 1),
        "forecast": point,
        "interval_low": np.percentile(sims, 10, axis=1),
        "interval_high": np.percentile(sims, 90, axis=1),
        "peak_days": peak_mask(future).reshape(weeks, SEASON).sum(axis=1),
    })
