"""The typed results of `incidents predict train | score | backtest`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from incidents.errors import StateError
from incidents.output import JsonResult


class TooLittleHistory(StateError):
    """Not enough incidents with a known outcome (or weeks of counts) to train or test on (exit 2)."""


@dataclass(frozen=True)
class Fit:
    what: str
    rows: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "rows": self.rows, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class TrainResult(JsonResult):
    env: str
    where: str
    tier: str  # "local" (scikit-learn + statsmodels) or "snowflake" (SNOWFLAKE.ML)
    version: str
    trained_at: str
    location: str  # the model folder, or the schema holding the Snowflake models
    training_incidents: dict[str, int]
    fits: tuple[Fit, ...] = ()
    volume: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # Snowflake's own metrics
    statements: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "tier": self.tier, "version": self.version, "trained_at": self.trained_at,
                "location": self.location, "training_incidents": self.training_incidents,
                "fits": [f.to_dict() for f in self.fits], "volume": self.volume, "evaluation": self.evaluation,
                "statements": self.statements, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class ScoreResult(JsonResult):
    env: str
    where: str
    scored_at: str
    open_incidents: int
    predictions: dict[str, int]  # model name -> rows written this run
    forecast_weeks: dict[str, int]  # model name -> weeks written this run
    model_version: str | None
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "scored_at": self.scored_at, "open_incidents": self.open_incidents,
                "predictions": self.predictions, "forecast_weeks": self.forecast_weeks,
                "model_version": self.model_version, "notes": list(self.notes), "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class BacktestResult(JsonResult):
    env: str
    where: str
    figures: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.figures[key]

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, **self.figures}
