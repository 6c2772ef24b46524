"""The model tier on Snowflake, as statements: SNOWFLAKE.ML.CLASSIFICATION models of escalation and
SLA breach trained on v_escalation_training / v_sla_breach_training, a SNOWFLAKE.ML.FORECAST model of
the weekly volume trained on v_volume_history (their objects are kinds.ml_model's), a procedure that
scores the open incidents (the SQL baseline, then !PREDICT and !FORECAST) and a task that calls it.
Every function here is pure: a Deployment in, rendered SQL out (templates/predict/snowflake/).

Checked against Snowflake's reference (no account is reachable from here): CREATE SNOWFLAKE.ML.
CLASSIFICATION, <model>!PREDICT, <model>!SHOW_GLOBAL_EVALUATION_METRICS, CREATE SNOWFLAKE.ML.FORECAST,
<model>!FORECAST, CREATE PROCEDURE (Snowflake Scripting), CREATE TASK; see the template of each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from incidents.kinds.ml_model import ESCALATION_MODEL, SLA_BREACH_MODEL, VOLUME_MODEL, model_statements
from incidents.predict import baseline
from incidents.project.deployment import Deployment
from incidents.project.predict import PredictConfig, load_predict_config

PROCEDURE = "predict_score_open_incidents"
TASK = "predict_score_task"
CLASSIFIER_NAME = "snowflake_ml_classification"
FORECAST_NAME = "snowflake_ml_forecast"
RUN_AT = ":run_at"  # the procedure's variable holding the run's one scored_at


@dataclass(frozen=True)
class Trained:
    """What a training run stamps on the rows its models write."""

    at: dt.datetime

    @property
    def version(self) -> str:
        return self.at.strftime("sf-%Y%m%dT%H%M%S")


def _render(dep: Deployment, name: str, **extra: Any) -> str:
    return dep.render(f"predict/snowflake/{name}.sql.j2", **extra).strip()


def score_statements(dep: Deployment, cfg: PredictConfig, trained: Trained, *,
                     scored_at_sql: str = RUN_AT) -> list[str]:
    """Everything one scoring run sends: the SQL baseline (delete + insert, incidents and volume), then
    both classifiers and the forecast (delete + insert each)."""
    ctx: dict[str, Any] = {"trained_at": trained.at, "model_version": trained.version, "scored_at": scored_at_sql}
    return [
        *baseline.score_statements(dep, scored_at_sql=scored_at_sql, smoothing=cfg.smoothing),
        dep.sql("predict/predictions_delete", model_name=CLASSIFIER_NAME),
        _render(dep, "model_insert", model_name=CLASSIFIER_NAME, escalation_model=ESCALATION_MODEL,
                sla_breach_model=SLA_BREACH_MODEL, **ctx),
        dep.sql("predict/volume_delete", model_name=FORECAST_NAME),
        _render(dep, "forecast_insert", model_name=FORECAST_NAME, model=VOLUME_MODEL, **ctx),
    ]


def procedure_sql(dep: Deployment, cfg: PredictConfig, trained: Trained) -> str:
    return _render(dep, "procedure", procedure=PROCEDURE, statements=score_statements(dep, cfg, trained))


def task_sql(dep: Deployment, cfg: PredictConfig) -> str:
    return _render(dep, "task", task=TASK, procedure=PROCEDURE, warehouse=cfg.warehouse, schedule=cfg.schedule)


def call_sql(dep: Deployment) -> str:
    return _render(dep, "call", procedure=PROCEDURE)


def train_statements(dep: Deployment, cfg: PredictConfig, trained: Trained) -> list[str]:
    """What `incidents predict train` sends on Snowflake, in order: the three models (kinds.ml_model;
    each trained as it is created), the scoring procedure stamped with this training run, its task,
    the task resumed."""
    return [
        *(sql for _, sql in model_statements(dep)),
        procedure_sql(dep, cfg, trained),
        task_sql(dep, cfg),
        dep.sql("access/resume_task", task=TASK),
    ]


def statements_to_validate(dep: Deployment) -> list[tuple[str, str]]:
    """(source, statement) for every statement `incidents predict` can send, as `validate` checks them
    on any target: the Snowflake training and scoring statements, the procedure's body one by one
    (sqlglot sees a body as one string), the SQL baseline and the reads of the history."""
    from incidents.kinds.ml_model import CLASSIFIERS, evaluation_statement

    cfg = load_predict_config(dep.project)
    trained = Trained(dt.datetime(2000, 1, 1))
    out = [("templates/predict/snowflake/", s) for s in train_statements(dep, cfg, trained)]
    out += [("templates/predict/snowflake/", evaluation_statement(dep, model)) for model, _, _ in CLASSIFIERS]
    out.append(("templates/predict/snowflake/call.sql.j2", call_sql(dep)))
    out += [(f"procedure {PROCEDURE}", s) for s in score_statements(dep, cfg, trained)]
    out += [("templates/predict/", s) for s in baseline.score_statements(
        dep, scored_at_sql="'2000-01-01 00:00:00'::TIMESTAMP_NTZ", smoothing=cfg.smoothing)]
    out.append(("templates/predict/baseline_estimates.sql.j2", baseline.estimates_sql(
        dep, trained_before=trained.at, scored_from=trained.at, scored_to=trained.at, smoothing=cfg.smoothing)))
    for name, open_only in (("features", False), ("features", True), ("daily_counts", False),
                            ("weekly_counts", False), ("history_counts", False), ("run_counts", False)):
        out.append((f"templates/predict/{name}.sql.j2", dep.sql(f"predict/{name}", open_only=open_only)))
    for name in ("predictions_delete", "volume_delete"):
        out.append((f"templates/predict/{name}.sql.j2", dep.sql(f"predict/{name}", model_name="x")))
    return out
