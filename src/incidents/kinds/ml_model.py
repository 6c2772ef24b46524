"""Snowflake ML models (the model tier of `incidents predict`, Snowflake only): SNOWFLAKE.ML.CLASSIFICATION
models of escalation and SLA breach trained on v_escalation_training / v_sla_breach_training, and a
SNOWFLAKE.ML.FORECAST model of the weekly volume trained on v_volume_history. Declared for an
environment whose models are on in config/predict.yml; a model is trained as it is created, so
`incidents predict train` creates them (never deploy: training costs warehouse time).

sqlglot reads none of these statements (it returns opaque Commands): each is checked against the part
of Snowflake's documented syntax we render, as a full-match pattern (`forms`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from incidents.kinds.access_object import QNAME, STRING, check_forms, form
from incidents.kinds.base import Desired, Forms, Kind, ObjectKind, statement
from incidents.project.deployment import Deployment
from incidents.project.predict import PREDICT_FILE, load_predict_config

MODEL = ObjectKind("model")
ESCALATION_MODEL = "incident_escalation_model"
SLA_BREACH_MODEL = "incident_sla_breach_model"
VOLUME_MODEL = "incident_volume_model"
# (model, its training view, what it predicts)
CLASSIFIERS = ((ESCALATION_MODEL, "v_escalation_training", "escalation"),
               (SLA_BREACH_MODEL, "v_sla_breach_training", "SLA breach of the resolve target"))
_COMMENT = rf"(?: COMMENT = {STRING})?"


class MlModels(Kind):
    name = "ml_model"
    object_kinds = (MODEL,)
    forms: ClassVar[Forms] = {
        # https://docs.snowflake.com/en/sql-reference/classes/classification/commands/create-classification
        "create_classification": form(
            rf"CREATE (?:OR REPLACE )?SNOWFLAKE\.ML\.CLASSIFICATION (?:IF NOT EXISTS )?(?P<model>{QNAME}) ?\( ?"
            rf"INPUT_DATA => TABLE\((?P<input>{QNAME})\), TARGET_COLNAME => (?P<target>{STRING}) ?\){_COMMENT}"),
        # https://docs.snowflake.com/en/sql-reference/classes/forecast/commands/create-forecast
        "create_forecast": form(
            rf"CREATE (?:OR REPLACE )?SNOWFLAKE\.ML\.FORECAST (?:IF NOT EXISTS )?(?P<model>{QNAME}) ?\( ?"
            rf"INPUT_DATA => TABLE\((?P<input>{QNAME})\), TIMESTAMP_COLNAME => (?P<timestamp>{STRING}), "
            rf"TARGET_COLNAME => (?P<target>{STRING}) ?\){_COMMENT}"),
        # https://docs.snowflake.com/en/sql-reference/classes/classification/methods/show_global_evaluation_metrics
        "show_evaluation": form(rf"CALL (?P<model>{QNAME})!SHOW_(?:GLOBAL_)?EVALUATION_METRICS\(\)"),
    }

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        if dep.env.target != "snowflake" or not load_predict_config(dep.project).models_on(dep.env):
            return []
        return [Desired(MODEL, name, (sql,), deployed=False, source=PREDICT_FILE)
                for name, sql in model_statements(dep)]

    def check_statement(self, statement: str, source: str) -> bool:
        if "!" in statement.split("(", 1)[0]:  # CALL <model>!<method>(): a model's method, not a procedure
            return check_forms(self.forms, ("CALL ",), statement, source)
        return check_forms(self.forms, ("CREATE SNOWFLAKE.ML.", "CREATE OR REPLACE SNOWFLAKE.ML."), statement, source)


def model_statements(dep: Deployment) -> list[tuple[str, str]]:
    """(model, CREATE statement) of the three models: creating one trains it."""
    out = [(model, statement(dep, "predict/snowflake/classification", f"model {model}", model=model,
                             training_view=view, comment=f"Probability of {what} from the features known at "
                                                         "creation (incidents predict train)."))
           for model, view, what in CLASSIFIERS]
    out.append((VOLUME_MODEL, statement(dep, "predict/snowflake/forecast", f"model {VOLUME_MODEL}",
                                        model=VOLUME_MODEL,
                                        comment="Incidents per week, Black Friday to Cyber Monday days as "
                                                "exogenous variable (incidents predict train).")))
    return out


def evaluation_statement(dep: Deployment, model: str) -> str:
    """The model's metrics on the part of its training data it held out."""
    return statement(dep, "predict/snowflake/evaluation", f"model {model}", model=model)
