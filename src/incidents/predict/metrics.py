"""The figures a backtest reports, each named for what it measures."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

CALIBRATION_BINS = 10


def auc(y: ArrayLike, p: ArrayLike) -> float | None:
    """Area under the ROC curve: the chance a random positive ranks above a random negative
    (0.5 = no better than chance). None when the outcomes are all of one class."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=int)
    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, p))


def brier(y: ArrayLike, p: ArrayLike) -> float | None:
    """Mean squared error of the probabilities (0 perfect; predicting the base rate scores its variance)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if len(y) == 0:
        return None
    return float(np.mean((p - y) ** 2))


def calibration(y: ArrayLike, p: ArrayLike, bins: int = CALIBRATION_BINS) -> list[dict[str, Any]]:
    """Per probability band of width 1/bins: incidents, mean predicted and observed rate."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    band = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = band == b
        if inside.any():
            rows.append({"band": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "incidents": int(inside.sum()),
                         "mean_predicted": round(float(p[inside].mean()), 4),
                         "observed_rate": round(float(y[inside].mean()), 4)})
    return rows


def mae_log_hours(actual_hours: ArrayLike, p50_hours: ArrayLike) -> float | None:
    """Mean absolute error of ln(hours): 0.5 means the median estimate is off by a factor e^0.5 = 1.65
    on a typical incident."""
    from incidents.predict.history import log_hours

    actual = np.asarray(actual_hours, dtype=float)
    if len(actual) == 0:
        return None
    return float(np.mean(np.abs(log_hours(actual) - log_hours(p50_hours))))


def coverage(actual: ArrayLike, low: ArrayLike, high: ArrayLike) -> float | None:
    """Share of outcomes inside [low, high] (a P10-P90 interval should hold about 0.8)."""
    values = np.asarray(actual, dtype=float)
    if len(values) == 0:
        return None
    return float(np.mean((values >= np.asarray(low, dtype=float)) & (values <= np.asarray(high, dtype=float))))


def mape(actual: ArrayLike, forecast: ArrayLike) -> float | None:
    """Mean absolute percentage error, in percent, over weeks with incidents."""
    actual, forecast = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    keep = actual > 0
    if not keep.any():
        return None
    return float(100 * np.mean(np.abs(forecast[keep] - actual[keep]) / actual[keep]))
