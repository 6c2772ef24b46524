"""Load and validate config/predict.yml: which environments run models, and the knobs of the baseline,
the backtest and the forecast. The file is optional: without it every environment scores with the
SQL baseline only, with the defaults below."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from incidents.project.models import Environment, Project
from incidents.project.reader import Node, read_yaml

PREDICT_FILE = "config/predict.yml"
# The task schedules Snowflake documents (https://docs.snowflake.com/en/sql-reference/sql/create-task):
# '<n> MINUTE' or 'USING CRON <5 fields> <time zone>'.
# The time zone as incidents.access.grammar reads a task's schedule.
_SCHEDULE_RE = re.compile(r"\d{1,5} MINUTES?|USING CRON (?:[0-9*/,\-A-Za-z?#]+ ){5}[A-Za-z_/]+")


@dataclass(frozen=True)
class PredictConfig:
    models: frozenset[str] = frozenset()  # environments whose model tier is on
    smoothing: float = 20.0
    min_incidents: int = 500
    min_weeks: int = 8
    folds: int = 3
    horizon_weeks: int = 4
    settle_weeks: int = 2
    peak_factor: float = 2.0
    warehouse: str | None = None
    schedule: str = "USING CRON 15 * * * * UTC"

    def models_on(self, env: Environment) -> bool:
        return env.name in self.models


def load_predict_config(project: Project) -> PredictConfig:
    """config/predict.yml of the project (defaults when there is none); ConfigError naming the file,
    key and line on any problem."""
    path = project.root / PREDICT_FILE
    if not path.is_file():
        return PredictConfig()
    node = Node(read_yaml(path, PREDICT_FILE) or {}, PREDICT_FILE, "")
    node.only("models", "baseline", "history", "backtest", "forecast", "snowflake")
    baseline = _section(node, "baseline", "smoothing")
    history = _section(node, "history", "min_incidents", "min_weeks")
    backtest = _section(node, "backtest", "folds", "horizon_weeks", "settle_weeks")
    forecast = _section(node, "forecast", "peak_factor")
    snowflake = _section(node, "snowflake", "warehouse", "schedule")
    return PredictConfig(
        models=_models(node, project),
        smoothing=_number(baseline, "smoothing", 20.0, 0, 100_000),
        min_incidents=int(_number(history, "min_incidents", 500, 10, 10_000_000, whole=True)),
        min_weeks=int(_number(history, "min_weeks", 8, 3, 520, whole=True)),
        folds=int(_number(backtest, "folds", 3, 1, 52, whole=True)),
        horizon_weeks=int(_number(backtest, "horizon_weeks", 4, 1, 26, whole=True)),
        settle_weeks=int(_number(backtest, "settle_weeks", 2, 0, 26, whole=True)),
        peak_factor=_number(forecast, "peak_factor", 2.0, 0.1, 100),
        warehouse=_warehouse(snowflake),
        schedule=_schedule(snowflake),
    )


def _section(node: Node, key: str, *allowed: str) -> Node:
    child = node.child(key, node.get(key, dict, {}))
    child.only(*allowed)
    return child


def _models(node: Node, project: Project) -> frozenset[str]:
    models = node.child("models", node.get("models", dict, {}))
    on = set()
    for name in models.data:
        if name not in project.environments:
            raise models.error(str(name), f"unknown environment; expected one of {', '.join(project.environments)}")
        if models.get(str(name), bool, False):
            on.add(str(name))
    return frozenset(on)


def _number(node: Node, key: str, default: float, low: float, high: float, *, whole: bool = False) -> float:
    value: Any = node.get(key, (int, float), default)
    if whole and int(value) != value:
        raise node.error(key, f"expected a whole number, got {value}")
    if not low <= value <= high:
        raise node.error(key, f"expected {low:g} to {high:g}, got {value}")
    return float(value)


def _schedule(node: Node) -> str:
    value = node.get("schedule", str, PredictConfig.schedule)
    if not _SCHEDULE_RE.fullmatch(value):
        raise node.error("schedule", "expected '<n> MINUTE' or 'USING CRON <5 fields> <time zone>' "
                                     "(Snowflake's task schedule)")
    return str(value)


def _warehouse(node: Node) -> str | None:
    """The scoring task's warehouse; null (or none given) makes the task serverless."""
    value = node.get("warehouse", str, None, nullable=True)
    return None if value is None else node.check_ident("warehouse", value)
