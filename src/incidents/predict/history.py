"""The history as the predictions see it: one row per incident from v_prediction_features (what is
known at creation, each outcome and when it became known), and the encoding of those features for
scikit-learn. An outcome counts for a model trained at time T only if it was known before T, so a
backtest never learns from the future."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from incidents.project.deployment import Deployment
from incidents.sql.session import Session

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CATEGORICAL = ("priority", "severity", "impact_level", "source", "category_id", "top_category_id", "team")
NUMERIC = ("hour_of_day", "day_of_week", "log_customers", "log_revenue", "detection_lag_minutes")
MIN_HOURS = 1 / 60  # a resolution faster than a minute counts as a minute (log scale)
_TIMES = ("created_at", "escalation_known_at", "sla_known_at", "resolution_known_at")


@dataclass(frozen=True)
class Target:
    name: str  # as in incident_predictions.target
    label: str  # column of v_prediction_features
    known: str  # when the label became known


ESCALATION = Target("escalation", "escalated", "escalation_known_at")
SLA_BREACH = Target("sla_breach", "sla_breached", "sla_known_at")
RESOLUTION = Target("resolution_hours", "resolution_hours", "resolution_known_at")
CLASSIFIED = (ESCALATION, SLA_BREACH)
TARGETS = (ESCALATION, SLA_BREACH, RESOLUTION)


def load_history(session: Session, dep: Deployment, *, open_only: bool = False) -> pd.DataFrame:
    """Every incident's features and outcomes (only the open incidents' with `open_only`), oldest
    first, with the model's numeric transforms."""
    from incidents.predict.frames import fetch_frame

    sql = dep.render("predict/features.sql.j2", open_only=open_only)
    return prepare(fetch_frame(session, sql, obj="v_prediction_features"))


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Types as the models need them: timestamps, labels as 0/1 floats (NaN unknown), log scales."""
    import numpy as np
    import pandas as pd

    frame = frame.copy()
    for column in _TIMES:
        frame[column] = pd.to_datetime(frame[column])
    frame["escalated"] = frame["escalated"].astype(float)
    frame["sla_breached"] = frame["sla_breached"].astype(float)
    for column in ("customers_affected", "revenue_impact", "resolution_hours", "detection_lag_minutes",
                   "hour_of_day", "day_of_week"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["log_customers"] = np.log1p(frame["customers_affected"].clip(lower=0))
    frame["log_revenue"] = np.log1p(frame["revenue_impact"].clip(lower=0))
    frame["is_open"] = frame["is_open"].astype(bool)
    return frame


def known_before(frame: pd.DataFrame, target: Target, before: pd.Timestamp | None) -> pd.Series:
    """Rows whose outcome for `target` was known before `before` (any known outcome when None)."""
    known = frame[target.label].notna() & frame[target.known].notna()
    if before is None:
        return known
    return known & (frame["created_at"] < before) & (frame[target.known] < before)


def log_hours(hours: Any) -> np.ndarray:
    import numpy as np

    return np.log(np.maximum(np.asarray(hours, dtype=float), MIN_HOURS))


MAX_CATEGORIES = 250  # gradient boosting takes at most 255 bins a feature; rarer values count as missing


def _codes(values: pd.Series) -> dict[str, int]:
    common = values.astype(str).value_counts().index[:MAX_CATEGORIES]
    return {v: i for i, v in enumerate(sorted(common))}


@dataclass
class Encoder:
    """Categorical features as integer codes learned from the training rows (a value never seen is
    missing, which gradient boosting routes like any missing value), numeric features as they are."""

    codes: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> Encoder:
        return cls({c: _codes(frame[c]) for c in CATEGORICAL})

    @property
    def categorical_mask(self) -> list[bool]:
        return [True] * len(CATEGORICAL) + [False] * len(NUMERIC)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        columns = [frame[c].astype(str).map(self.codes[c]).astype(float).to_numpy() for c in CATEGORICAL]
        columns += [frame[c].astype(float).to_numpy() for c in NUMERIC]
        return np.column_stack(columns) if len(frame) else np.empty((0, len(columns)))
