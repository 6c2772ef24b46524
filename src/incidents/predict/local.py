"""The local model tier for incidents: scikit-learn's histogram gradient boosting, a classifier each
for escalation and SLA breach (log loss, so the probabilities are calibrated enough to compare by
Brier score) and three quantile regressions (pinball loss at 0.1, 0.5 and 0.9) of ln(hours to
resolve). scikit-learn is imported here only, when a model is fitted or used."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from incidents.predict.history import CLASSIFIED, RESOLUTION, Encoder, known_before, log_hours

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MODEL_NAME = "sklearn_hist_gradient_boosting"
QUANTILES = (0.1, 0.5, 0.9)
# Small trees, a fixed number of rounds and no early stopping: the same settings on every fold, no
# held-out slice taken from the most recent (most informative) history. 100 rounds at 0.1: on the
# seeded 100k history 150 rounds at 0.08 scored within 0.005 AUC and 0.003 MAE for 1.5x the time.
PARAMS: dict[str, Any] = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 40,
                          "l2_regularization": 1.0, "early_stopping": False}
Progress = Callable[[str, int, float], None]  # (what, rows, seconds) after each fit
# One OpenMP thread: on a machine whose cores are busy with other work, scikit-learn's spinning worker
# threads wait on each other and a fit takes 10-100x longer (measured here at load 8 on 2 cores); one
# thread costs ~1.4x on an idle machine and never degrades like that.
THREADS = 1


@dataclass
class Constant:
    """What a target gets when its history holds one class only: that class's share, for every row."""

    value: float

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.column_stack([np.full(len(x), 1 - self.value), np.full(len(x), self.value)])


@dataclass
class IncidentModels:
    encoder: Encoder
    classifiers: dict[str, Any] = field(default_factory=dict)  # target name -> fitted classifier
    quantiles: dict[float, Any] = field(default_factory=dict)  # 0.1/0.5/0.9 -> fitted regressor of ln(hours)
    training_rows: dict[str, int] = field(default_factory=dict)


def fit(frame: pd.DataFrame, *, before: pd.Timestamp | None, seed: int = 0, shuffle_labels: bool = False,
        targets: tuple[str, ...] = ("escalation", "sla_breach", "resolution_hours"),
        on_fit: Progress | None = None) -> IncidentModels:
    """Fit on the outcomes known before `before` (all known ones when None). `shuffle_labels`
    permutes the labels among the training rows: the leakage check, whose AUC must fall to ~0.5."""
    import sklearn.ensemble  # noqa: F401 - loaded before the limit, which only reaches libraries already loaded
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=THREADS):
        return _fit(frame, before=before, seed=seed, shuffle_labels=shuffle_labels, targets=targets, on_fit=on_fit)


def _fit(frame: pd.DataFrame, *, before: pd.Timestamp | None, seed: int, shuffle_labels: bool,
         targets: tuple[str, ...], on_fit: Progress | None) -> IncidentModels:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    rng = np.random.default_rng(seed)
    seen = frame if before is None else frame[frame["created_at"] < before]
    models = IncidentModels(Encoder.fit(seen))
    mask = models.encoder.categorical_mask
    for target in (t for t in CLASSIFIED if t.name in targets):
        rows = frame[known_before(frame, target, before)]
        y = rows[target.label].to_numpy(dtype=int)
        if shuffle_labels:
            y = rng.permutation(y)
        began = time.perf_counter()
        if len(np.unique(y)) < 2:
            models.classifiers[target.name] = Constant(float(y.mean()) if len(y) else 0.0)
        else:
            model = HistGradientBoostingClassifier(categorical_features=mask, random_state=seed, **PARAMS)
            models.classifiers[target.name] = model.fit(models.encoder.matrix(rows), y)
        models.training_rows[target.name] = len(rows)
        _report(on_fit, target.name, len(rows), began)
    if RESOLUTION.name in targets:
        rows = frame[known_before(frame, RESOLUTION, before)]
        x, y = models.encoder.matrix(rows), log_hours(rows[RESOLUTION.label])
        for q in QUANTILES:
            began = time.perf_counter()
            model = HistGradientBoostingRegressor(loss="quantile", quantile=q, categorical_features=mask,
                                                  random_state=seed, **PARAMS)
            models.quantiles[q] = model.fit(x, y)
            _report(on_fit, f"resolution_hours P{round(q * 100)}", len(rows), began)
        models.training_rows[RESOLUTION.name] = len(rows)
    return models


def _report(on_fit: Progress | None, what: str, rows: int, began: float) -> None:
    if on_fit is not None:
        on_fit(what, rows, time.perf_counter() - began)


def predict(models: IncidentModels, frame: pd.DataFrame) -> pd.DataFrame:
    """incident_id, p_escalation, p_sla_breach, res_p10, res_p50, res_p90 (hours) for every row; the
    three quantiles sorted per row, so the interval never crosses itself."""
    import numpy as np
    import pandas as pd
    from threadpoolctl import threadpool_limits

    x = models.encoder.matrix(frame)
    out = pd.DataFrame({"incident_id": frame["incident_id"].to_numpy()})
    with threadpool_limits(limits=THREADS):
        for name, model in models.classifiers.items():
            out[f"p_{name}"] = model.predict_proba(x)[:, 1] if len(x) else np.empty(0)
        logs = np.sort(np.column_stack([models.quantiles[q].predict(x) for q in QUANTILES]), axis=1) \
            if len(x) and models.quantiles else np.empty((0, 3))
    if models.quantiles:
        for i, q in enumerate(QUANTILES):
            out[f"res_p{round(q * 100)}"] = np.exp(logs[:, i])
    return out
