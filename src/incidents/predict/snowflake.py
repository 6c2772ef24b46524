"""The model tier on Snowflake, as statements: SNOWFLAKE.ML.CLASSIFICATION models of escalation and
SLA breach trained on v_escalation_training / v_sla_breach_training, a SNOWFLAKE.ML.FORECAST model of
the weekly volume trained on v_volume_history, a procedure that scores the open incidents (the SQL
baseline, then !PREDICT and !FORECAST) and a task that calls it. Every function here is pure: project
and environment in, rendered SQL out (templates/predict/snowflake/).

Checked against Snowflake's reference (no account is reachable from here): CREATE SNOWFLAKE.ML.
CLASSIFICATION, <model>!PREDICT, <model>!SHOW_GLOBAL_EVALUATION_METRICS, CREATE SNOWFLAKE.ML.FORECAST,
<model>!FORECAST, CREATE PROCEDURE (Snowflake Scripting), CREATE TASK; see the template of each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from incidents.models import Environment, Project
from incidents.predict import baseline
from incidents.predict.config import PredictConfig
from incidents.render import context
from incidents.templating import render_template

ESCALATION_MODEL = "incident_escalation_model"
SLA_BREACH_MODEL = "incident_sla_breach_model"
VOLUME_MODEL = "incident_volume_model"
PROCEDURE = "predict_score_open_incidents"
TASK = "predict_score_task"
CLASSIFIER_NAME = "snowflake_ml_classification"
FORECAST_NAME = "snowflake_ml_forecast"
RUN_AT = ":run_at"  # the procedure's variable holding the run's one scored_at
CLASSIFIERS = ((ESCALATION_MODEL, "v_escalation_training", "escalation"),
               (SLA_BREACH_MODEL, "v_sla_breach_training", "SLA breach of the resolve target"))


@dataclass(frozen=True)
class Trained:
    """What a training run stamps on the rows its models write."""

    at: dt.datetime

    @property
    def version(self) -> str:
        return self.at.strftime("sf-%Y%m%dT%H%M%S")


def _render(project: Project, env: Environment, name: str, **extra: Any) -> str:
    return render_template(project.templates_dir, f"predict/snowflake/{name}.sql.j2",
                           **context(project, env, **extra)).strip()


def classification_sql(project: Project, env: Environment, model: str, training_view: str, what: str) -> str:
    return _render(project, env, "classification", model=model, training_view=training_view,
                   comment=f"Probability of {what} from the features known at creation (incidents predict train).")


def forecast_sql(project: Project, env: Environment) -> str:
    return _render(project, env, "forecast", model=VOLUME_MODEL,
                   comment="Incidents per week, Black Friday to Cyber Monday days as exogenous variable "
                           "(incidents predict train).")


def evaluation_sql(project: Project, env: Environment, model: str) -> str:
    return _render(project, env, "evaluation", model=model)


def score_statements(project: Project, env: Environment, cfg: PredictConfig, trained: Trained, *,
                     scored_at_sql: str = RUN_AT) -> list[str]:
    """Everything one scoring run sends: the SQL baseline (delete + insert, incidents and volume), then
    both classifiers and the forecast (delete + insert each)."""
    ctx: dict[str, Any] = {"trained_at": trained.at, "model_version": trained.version, "scored_at": scored_at_sql}
    return [
        *baseline.score_statements(project, env, scored_at_sql=scored_at_sql, smoothing=cfg.smoothing),
        render_template(project.templates_dir, "predict/predictions_delete.sql.j2",
                        **context(project, env, model_name=CLASSIFIER_NAME)).strip(),
        _render(project, env, "model_insert", model_name=CLASSIFIER_NAME, escalation_model=ESCALATION_MODEL,
                sla_breach_model=SLA_BREACH_MODEL, **ctx),
        render_template(project.templates_dir, "predict/volume_delete.sql.j2",
                        **context(project, env, model_name=FORECAST_NAME)).strip(),
        _render(project, env, "forecast_insert", model_name=FORECAST_NAME, model=VOLUME_MODEL, **ctx),
    ]


def procedure_sql(project: Project, env: Environment, cfg: PredictConfig, trained: Trained) -> str:
    return _render(project, env, "procedure", procedure=PROCEDURE,
                   statements=score_statements(project, env, cfg, trained))


def task_sql(project: Project, env: Environment, cfg: PredictConfig) -> str:
    return _render(project, env, "task", task=TASK, procedure=PROCEDURE, warehouse=cfg.warehouse,
                   schedule=cfg.schedule)


def resume_task_sql(project: Project, env: Environment) -> str:
    return render_template(project.templates_dir, "access/resume_task.sql.j2",
                           **context(project, env, task=TASK)).strip()


def train_statements(project: Project, env: Environment, cfg: PredictConfig, trained: Trained) -> list[str]:
    """What `incidents predict train` sends on Snowflake, in order: the three models (trained as they
    are created), the scoring procedure stamped with this training run, its task, the task resumed."""
    return [
        *(classification_sql(project, env, model, view, what) for model, view, what in CLASSIFIERS),
        forecast_sql(project, env),
        procedure_sql(project, env, cfg, trained),
        task_sql(project, env, cfg),
        resume_task_sql(project, env),
    ]


def procedure_body(project: Project, env: Environment, cfg: PredictConfig) -> list[str]:
    """The statements inside the procedure, for `validate` (sqlglot sees the body as one string)."""
    return score_statements(project, env, cfg, Trained(dt.datetime(2000, 1, 1)))


def all_statements(project: Project, env: Environment) -> list[tuple[str, str]]:
    """(source, statement) for every statement `incidents predict` can send, as `validate` checks them:
    the Snowflake training and scoring statements, the procedure's body one by one (sqlglot sees a body
    as one string), the SQL baseline and the reads of the history."""
    from incidents.predict.config import load_predict_config

    cfg = load_predict_config(project)
    trained = Trained(dt.datetime(2000, 1, 1))
    ctx = context(project, env)
    out = [("templates/predict/snowflake/", s) for s in train_statements(project, env, cfg, trained)]
    out += [("templates/predict/snowflake/", evaluation_sql(project, env, model)) for model, _, _ in CLASSIFIERS]
    out.append(("templates/predict/snowflake/call.sql.j2",
                _render(project, env, "call", procedure=PROCEDURE)))
    out += [(f"procedure {PROCEDURE}", s) for s in procedure_body(project, env, cfg)]
    out += [("templates/predict/", s) for s in baseline.score_statements(
        project, env, scored_at_sql="'2000-01-01 00:00:00'::TIMESTAMP_NTZ", smoothing=cfg.smoothing)]
    out.append(("templates/predict/baseline_estimates.sql.j2", baseline.estimates_sql(
        project, env, trained_before=trained.at, scored_from=trained.at, scored_to=trained.at,
        smoothing=cfg.smoothing)))
    for name, open_only in (("features", False), ("features", True), ("daily_counts", False),
                            ("weekly_counts", False), ("history_counts", False), ("run_counts", False)):
        out.append((f"templates/predict/{name}.sql.j2", render_template(
            project.templates_dir, f"predict/{name}.sql.j2", **ctx, open_only=open_only).strip()))
    for name, model_name in (("predictions_delete", "x"), ("volume_delete", "x")):
        out.append((f"templates/predict/{name}.sql.j2", render_template(
            project.templates_dir, f"predict/{name}.sql.j2", **context(project, env, model_name=model_name)).strip()))
    return out
