"""The figures a backtest reports, each named for what it measures."""

from __future__ import annotations

from typing import Any

import numpy as np

CALIBRATION_BINS = 10


def auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the ROC curve: the chance a random positive ranks above a random negative
    (0.5 = no better than chance). None when the outcomes are all of one class."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=int)
    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, p))


def brier(y: np.ndarray, p: np.ndarray) -> float | None:
    """Mean squared error of the probabilities (0 perfect; predicting the base rate scores its variance)."""
    if len(y) == 0:
        return None
    return float(np.mean((np.asarray(p, dtype=float) - np.asarray(y, dtype=float)) ** 2))


def calibration(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict[str, Any]]:
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


def mae_log_hours(actual_hours: np.ndarray, p50_hours: np.ndarray) -> float | None:
    """Mean absolute error of ln(hours): 0.5 means the median estimate is off by a factor e^0.5 = 1.65
    on a typical incident."""
    from incidents.predict.history import log_hours

    if len(actual_hours) == 0:
        return None
    return float(np.mean(np.abs(log_hours(actual_hours) - log_hours(p50_hours))))


def coverage(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> float | None:
    """Share of outcomes inside [low, high] (a P10-P90 interval should hold about 0.8)."""
    if len(actual) == 0:
        return None
    actual = np.asarray(actual, dtype=float)
    return float(np.mean((actual >= low) & (actual <= high)))


def mape(actual: np.ndarray, forecast: np.ndarray) -> float | None:
    """Mean absolute percentage error, in percent, over weeks with incidents."""
    actual, forecast = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    keep = actual > 0
    if not keep.any():
        return None
    return float(100 * np.mean(np.abs(forecast[keep] - actual[keep]) / actual[keep]))
