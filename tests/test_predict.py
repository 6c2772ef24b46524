"""`incidents predict train | score | backtest` on small seeded data (the 100k figures are
benchmarks/predict.py's), config/predict.yml, and the Snowflake statements (rendered, checked against
the grammar, and sent through a recording session: no account is reachable here)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from incidents.cli import app
from incidents.errors import ConfigError, StateError
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.sql.session import Session

REPO = Path(__file__).resolve().parents[1]
END = dt.date(2026, 12, 3)  # the seeded history ends here, so every run sees the same incidents
pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")


def _seeded(base: Path, template: Path, incidents: int) -> Path:
    from incidents.seed import SeedOptions, seed
    from incidents.targets.local import open_local

    shutil.copytree(template, base, dirs_exist_ok=True)
    dep = Deployment(load_project(REPO), environment(load_project(REPO), "dev"))
    session = open_local(base, dep.env)
    try:
        seed(session, dep, SeedOptions(incidents=incidents, random_seed=7, end=END))
    finally:
        session.close()
    return base


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory, deployed_template: Path) -> Path:
    return _seeded(tmp_path_factory.mktemp("predict-seeded"), deployed_template, 2000)


@pytest.fixture
def seeded(local_dir: Path, seeded_template: Path, project_copy: Path) -> list[str]:
    """This test's copy of the seeded local target; the CLI's project arguments."""
    shutil.copytree(seeded_template, local_dir)
    return ["--project-dir", str(project_copy)]


def _query(runner: CliRunner, args: list[str], sql: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["query", sql, "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _write_predict_yml(project: Path, **changes: Any) -> None:
    path = project / "config" / "predict.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        section, _, name = key.partition("__")
        data.setdefault(section, {})[name] = value
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


# --------------------------------------------------------------------------- train and score (local)

@pytest.mark.slow
def test_train_then_score_gives_every_open_incident_its_rows(seeded: list[str], runner: CliRunner,
                                                             local_dir: Path) -> None:
    trained = runner.invoke(app, ["predict", "train", *seeded])
    assert trained.exit_code == 0, trained.output
    assert "Trained local models v0001" in trained.output and "peak factor" in trained.output
    assert "trained escalation on" in trained.stderr  # progress, one line per model
    version = local_dir / "models" / "dev" / "v0001"
    assert (version / "meta.json").is_file() and (version / "estimators.joblib").is_file()

    for _ in range(2):  # a second run replaces the rows of the first
        scored = runner.invoke(app, ["predict", "score", "--format", "json", *seeded])
        assert scored.exit_code == 0, scored.output
    report = json.loads(scored.stdout)
    opened = report["open_incidents"]
    assert opened > 0 and report["model_version"] == "v0001"
    assert report["predictions"] == {"sql_baseline": 3 * opened, "sklearn_hist_gradient_boosting": 3 * opened}
    assert report["forecast_weeks"] == {"sql_trailing_mean": 12, "statsmodels_holt_winters": 12}

    rows = _query(runner, seeded, "SELECT f.incident_id, COUNT(p.incident_id) AS n, COUNT(DISTINCT p.target) AS t "
                                  "FROM v_prediction_features f LEFT JOIN incident_predictions p "
                                  "ON p.incident_id = f.incident_id WHERE f.is_open GROUP BY f.incident_id")
    assert len(rows) == opened and {(r["N"], r["T"]) for r in rows} == {(6, 3)}
    risk = _query(runner, seeded, "SELECT * FROM v_open_incident_risk")
    assert len(risk) == opened and all(r["BREACH_PROBABILITY"] is not None for r in risk)
    assert {r["BREACH_MODEL_NAME"] for r in risk} == {"sklearn_hist_gradient_boosting"}
    assert all(r["RESOLUTION_HOURS_LOW"] <= r["RESOLUTION_HOURS_ESTIMATE"] <= r["RESOLUTION_HOURS_HIGH"] for r in risk)
    weeks = _query(runner, seeded, "SELECT * FROM v_volume_forecast_12w ORDER BY week_start")
    assert [w["WEEKS_AHEAD"] for w in weeks] == list(range(1, 13)) and weeks[0]["WEEK_START"] == "2026-11-30"
    assert all(w["INTERVAL_LOW"] <= w["FORECAST_INCIDENTS"] <= w["INTERVAL_HIGH"] for w in weeks)
    assert weeks[0]["PEAK_DAYS"] == 1 and weeks[0]["TIER"] == "model"

    again = runner.invoke(app, ["predict", "train", "-q", *seeded])
    assert again.exit_code == 0 and "v0002" in again.output, again.output


def test_score_without_a_trained_model_uses_the_baseline_and_the_report_query_reads_it(
        seeded: list[str], runner: CliRunner) -> None:

    scored = runner.invoke(app, ["predict", "score", *seeded])
    assert scored.exit_code == 0, scored.output
    assert "note: no trained model for env dev yet" in scored.stderr
    counts = _query(runner, seeded, "SELECT model_name, COUNT(*) AS n, COUNT(DISTINCT incident_id) AS incidents "
                                    "FROM incident_predictions GROUP BY model_name")
    [open_count] = _query(runner, seeded, "SELECT COUNT(*) AS n FROM v_prediction_features WHERE is_open")
    assert counts == [{"MODEL_NAME": "sql_baseline", "N": 3 * open_count["N"], "INCIDENTS": open_count["N"]}]

    project = load_project(REPO)
    sql = Deployment(project, environment(project, "dev")).render("report/risk_planning.sql.j2")
    rows = _query(runner, seeded, sql)
    parts = {p: [r for r in rows if r["PART"] == p] for p in ("risk", "forecast", "capacity", "sla_tuning",
                                                             "training", "cost")}
    assert len(parts["risk"]) == 10 and len(parts["forecast"]) == 12 and parts["capacity"] and parts["cost"]
    assert [r["POSITION"] for r in parts["risk"]] == list(range(1, 11))
    assert all(r["ESTIMATE"] is not None and r["BREACH_RISK"] is not None for r in parts["risk"])
    assert {r["DETAIL"] for r in parts["forecast"]} == {"sql_trailing_mean"}


def test_models_off_for_the_env_refuses_train(project_copy: Path, runner: CliRunner) -> None:
    _write_predict_yml(project_copy, models__dev=False)
    refused = runner.invoke(app, ["predict", "train", "--project-dir", str(project_copy)])
    assert refused.exit_code == 2 and "config/predict.yml: models: models are off for env dev" in refused.stderr


def test_too_little_history_is_exit_2_with_the_count(tmp_path: Path, deployed_template: Path, local_dir: Path,
                                                     project_copy: Path, runner: CliRunner) -> None:
    _seeded(local_dir, deployed_template, 60)
    args = ["--project-dir", str(project_copy)]
    trained = runner.invoke(app, ["predict", "train", *args])
    assert trained.exit_code == 2, trained.output
    assert "too little history to train:" in trained.stderr and "at least 500 needed" in trained.stderr
    count = int(trained.stderr.split("train: ")[1].split(" incidents")[0].replace(",", ""))
    assert 0 < count < 60
    tested = runner.invoke(app, ["predict", "backtest", "--format", "json", *args])
    assert tested.exit_code == 2 and json.loads(tested.stdout)["error"]["exit_code"] == 2
    assert "Traceback" not in tested.output + tested.stderr


def test_predict_before_deploy_says_so(project_copy: Path, local_dir: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["predict", "score", "--project-dir", str(project_copy)])
    assert result.exit_code == 2 and "run `incidents deploy`" in result.stderr
    assert not local_dir.exists()


# --------------------------------------------------------------------------- backtest

@pytest.mark.slow
def test_backtest_names_its_figures_and_writes_nothing(seeded: list[str], runner: CliRunner) -> None:
    result = runner.invoke(app, ["predict", "backtest", "--format", "json", *seeded])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert len(figures["folds"]) == 3 and figures["incidents"] == 2000
    for target in ("escalation", "sla_breach"):
        t = figures[target]
        for tier in ("model", "baseline"):
            assert 0.5 < t[tier]["auc"] < 1 and 0 < t[tier]["brier"] < 0.25
            assert sum(b["incidents"] for b in t[tier]["calibration"]) == t["test_incidents"]
        # The seed encodes its dependencies: learned from shuffled labels, the same model is near chance.
        assert abs(t["shuffled_labels_model"]["auc"] - 0.5) < 0.12
        assert t["shuffled_labels_model"]["model_on_same_incidents"]["auc"] > t["shuffled_labels_model"]["auc"] + 0.1
    res = figures["resolution_hours"]
    assert 0.6 < res["model"]["p10_p90_coverage"] < 0.95 and res["model"]["mae_log_hours"] > 0
    weekly = figures["weekly_volume"]
    assert weekly["model"]["weekly_mape"] > 0 and weekly["baseline"]["weekly_mape"] > 0
    assert [w["week_start"] for w in weekly["peak_weeks"]] == ["2026-11-23"]
    assert weekly["peak_weeks"][0]["peak_factor_source"] == "config"  # no Black Friday before the cut
    empty = _query(runner, seeded, "SELECT COUNT(*) AS n FROM incident_predictions")
    assert empty == [{"N": 0}]
    text = runner.invoke(app, ["predict", "backtest", "-q", *seeded])
    assert text.exit_code == 0 and "shuffled labels" in text.output and "Peak week 2026-11-23" in text.output


def test_backtest_folds_end_before_the_unsettled_weeks() -> None:
    from incidents.predict.backtesting import folds
    from incidents.project.predict import PredictConfig

    cuts = folds(dt.datetime(2026, 12, 3, 17, 5), PredictConfig(folds=3, horizon_weeks=4, settle_weeks=2))
    assert [(f.train_before.date(), f.test_to.date()) for f in cuts] == [
        (dt.date(2026, 8, 27), dt.date(2026, 9, 24)), (dt.date(2026, 9, 24), dt.date(2026, 10, 22)),
        (dt.date(2026, 10, 22), dt.date(2026, 11, 19))]


def test_metrics_say_what_they_measure() -> None:
    from incidents.predict import metrics

    y = [0, 0, 1, 1]
    assert metrics.auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0 and metrics.auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert metrics.auc([1, 1], [0.1, 0.2]) is None  # one class: no AUC
    assert metrics.brier(y, [0, 0, 1, 1]) == 0.0 and metrics.brier(y, [0.5] * 4) == 0.25
    assert metrics.calibration(y, [0.05, 0.15, 0.85, 0.95]) == [
        {"band": "0.0-0.1", "incidents": 1, "mean_predicted": 0.05, "observed_rate": 0.0},
        {"band": "0.1-0.2", "incidents": 1, "mean_predicted": 0.15, "observed_rate": 0.0},
        {"band": "0.8-0.9", "incidents": 1, "mean_predicted": 0.85, "observed_rate": 1.0},
        {"band": "0.9-1.0", "incidents": 1, "mean_predicted": 0.95, "observed_rate": 1.0}]
    assert metrics.coverage([1, 5, 10], [2, 2, 2], [8, 8, 8]) == pytest.approx(1 / 3)
    assert metrics.mae_log_hours([1.0, 100.0], [1.0, 100.0]) == 0.0
    assert metrics.mape([100, 200, 0], [110, 180, 5]) == pytest.approx(10.0)  # weeks with no incidents left out


def test_volume_model_learns_the_peak_from_history_and_puts_it_back() -> None:
    import numpy as np
    import pandas as pd

    from incidents.predict import volume

    days = pd.date_range("2024-01-01", "2025-12-28", freq="D")
    rng = np.random.default_rng(3)
    weekday = np.array([1.1, 1.05, 1.0, 1.0, 0.95, 0.9, 0.85])[days.dayofweek]
    counts = rng.poisson(100 * weekday * np.where(volume.peak_mask(days), 3.0, 1.0)).astype(float)
    series = pd.Series(counts, index=days)
    history = series[series.index < "2025-11-03"]  # holds Black Friday 2024, not 2025
    model = volume.fit(history, default_peak_factor=2.0)
    assert model.peak_source == "history" and 2.5 < model.peak_factor < 3.5
    forecast = volume.forecast(model, history, 4)
    assert list(forecast["week_start"]) == [dt.date(2025, 11, 3) + dt.timedelta(weeks=k) for k in range(4)]
    assert list(forecast["peak_days"]) == [0, 0, 0, 3]  # Black Friday 2025 is Nov 28: Fri-Sun in the 4th week
    actual = [series[str(w):str(w + dt.timedelta(days=6))].sum() for w in forecast["week_start"]]
    assert all(abs(f - a) / a < 0.08 for f, a in zip(forecast["forecast"], actual, strict=True))
    assert (forecast["interval_low"] <= forecast["forecast"]).all() and \
        (forecast["forecast"] <= forecast["interval_high"]).all()


# --------------------------------------------------------------------------- config/predict.yml

@pytest.mark.parametrize(("text", "message"), [
    ("models: {qa: true}\n",
     "config/predict.yml:1: models.qa: unknown environment; expected one of dev, staging, prod"),
    ("baseline: {smoothing: -1}\n", "config/predict.yml:1: baseline.smoothing: expected 0 to 100000, got -1"),
    ("backtest: {folds: 2.5}\n", "config/predict.yml:1: backtest.folds: expected a whole number, got 2.5"),
    ("snowflake: {schedule: \"5 minutes'; DROP TABLE x; --\"}\n", "snowflake.schedule: expected '<n> MINUTE'"),
    ("snowflake: {warehouse: \"wh; DROP\"}\n", "snowflake.warehouse: invalid identifier"),
    ("forecast: {peak: 2}\n", "forecast.peak: unknown key; expected one of peak_factor"),
])
def test_predict_yml_errors_name_file_key_and_line(project_copy: Path, text: str, message: str) -> None:
    from incidents.project.predict import load_predict_config

    (project_copy / "config" / "predict.yml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_predict_config(load_project(project_copy))
    assert message in str(caught.value) and len(str(caught.value).splitlines()) == 1


def test_without_predict_yml_every_env_scores_with_the_baseline(project_copy: Path) -> None:
    from incidents.project.predict import load_predict_config

    (project_copy / "config" / "predict.yml").unlink()
    project = load_project(project_copy)
    assert not any(load_predict_config(project).models_on(env) for env in project.environments.values())


# --------------------------------------------------------------------------- Snowflake statements

def _statements(env_name: str = "prod") -> tuple[Deployment, list[str]]:
    from incidents.predict import snowflake
    from incidents.project.predict import load_predict_config

    project = load_project(REPO)
    dep = Deployment(project, environment(project, env_name))
    trained = snowflake.Trained(dt.datetime(2026, 12, 4, 9, 30))
    return dep, snowflake.train_statements(dep, load_predict_config(project), trained)


def test_snowflake_statements_follow_the_documented_syntax() -> None:
    from incidents.engine.validate import check_statement
    from incidents.kinds import forms
    from incidents.kinds.access_object import match

    _, statements = _statements()
    kinds = [found[0] if (found := match(forms(), s)) else None for s in statements]
    assert kinds[:3] == ["create_classification", "create_classification", "create_forecast"]
    inputs = [match(forms(), s)[1].group("input") for s in statements[:3]]  # type: ignore[index]
    assert inputs == ["INCIDENTS_PROD.CORE.V_ESCALATION_TRAINING", "INCIDENTS_PROD.CORE.V_SLA_BREACH_TRAINING",
                      "INCIDENTS_PROD.CORE.V_VOLUME_HISTORY"]
    procedure = statements[3]
    assert "'2026-12-04 09:30:00'::TIMESTAMP_NTZ" in procedure and "'sf-20261204T093000'" in procedure
    assert kinds[4:] == ["create_task", "alter_task"]
    for statement in statements:
        check_statement(statement, "test")  # a kind's documented form, or sqlglot for the procedure


@pytest.mark.parametrize("broken", [
    "CREATE OR REPLACE SNOWFLAKE.ML.CLASSIFICATION M(TARGET_COLNAME => 'OUTCOME', INPUT_DATA => TABLE(V))",
    "CREATE OR REPLACE SNOWFLAKE.ML.FORECAST M(INPUT_DATA => TABLE(V), TARGET_COLNAME => 'N')",  # no timestamp
    "CREATE SNOWFLAKE.ML.CLASSIFICATION M(INPUT_DATA => TABLE(V), TARGET_COLNAME => OUTCOME)",  # name, not string
    "CALL M!DROP_EVERYTHING()",
])
def test_the_grammar_refuses_forms_we_do_not_render(broken: str) -> None:
    from incidents.engine.validate import check_statement

    with pytest.raises(ConfigError, match=r"does not follow Snowflake's syntax|not understood"):
        check_statement(broken, "test")


def test_validate_checks_every_predict_statement() -> None:
    from incidents.predict.snowflake import Trained, score_statements, statements_to_validate
    from incidents.project.predict import load_predict_config

    dep, _ = _statements()
    sources = [source for source, _ in statements_to_validate(dep)]
    assert len(score_statements(dep, load_predict_config(dep.project), Trained(dt.datetime(2000, 1, 1)))) == 8
    assert sources.count("procedure predict_score_open_incidents") == 8
    assert any(s.endswith("baseline_estimates.sql.j2") for s in sources)


class _Cursor:
    def __init__(self, conn: _Recording) -> None:
        self.conn, self.description, self.rows = conn, None, []

    def execute(self, sql: str, params: Any = None) -> None:
        self.conn.sent.append(sql)
        if self.conn.missing and sql.startswith("CALL"):
            raise _Missing("SQL compilation error: Procedure 'PREDICT_SCORE_OPEN_INCIDENTS' does not exist")
        if "COUNT(escalation_known_at)" in sql:
            self.description = [(c,) for c in ("INCIDENTS", "OPEN_INCIDENTS", "ESCALATION_KNOWN", "SLA_BREACH_KNOWN",
                                               "RESOLUTION_KNOWN")]
            self.rows = [(5000, 40, 4800, 4500, 4400)]
        elif "rows_written" in sql:
            self.description = [("TABLE_NAME",), ("MODEL_NAME",), ("ROWS_WRITTEN",)]
            self.rows = [("incident_predictions", "sql_baseline", 120),
                         ("volume_forecast", "snowflake_ml_forecast", 12)]
        elif "SHOW_GLOBAL_EVALUATION_METRICS" in sql:
            self.description = [("DATASET_TYPE",), ("ERROR_METRIC",), ("METRIC_VALUE",)]
            self.rows = [("EVAL", "f1", 0.71)]
        else:
            self.description, self.rows = None, []

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def close(self) -> None:
        pass


class _Missing(Exception):
    errno = 2003


class _Recording:
    def __init__(self, missing: bool = False) -> None:
        self.sent: list[str] = []
        self.missing = missing

    def cursor(self) -> _Cursor:
        return _Cursor(self)


def _snowflake_session(missing: bool = False) -> Session:
    return Session(_Recording(missing), "snowflake", label="snowflake:test",
                   is_target_error=lambda exc: isinstance(exc, _Missing))


def test_on_snowflake_train_creates_the_models_and_score_calls_the_procedure(monkeypatch: pytest.MonkeyPatch) -> None:
    from incidents import predict
    from incidents.project.predict import PredictConfig

    dep, _ = _statements()
    monkeypatch.setattr(predict, "load_predict_config", lambda p: PredictConfig(models=frozenset({"prod"})))
    session = _snowflake_session()
    result = predict.train(session, dep, "snowflake:test")
    assert result.tier == "snowflake" and result.statements == 6 and result.version == result.trained_at[:0] + \
        "sf-" + result.trained_at.replace("-", "").replace(":", "").replace(" ", "T")
    created = [s.split("(")[0].split()[-1] for s in session.conn.sent if s.startswith("CREATE OR REPLACE SNOWFLAKE")]
    assert created == ["INCIDENTS_PROD.CORE.INCIDENT_ESCALATION_MODEL", "INCIDENTS_PROD.CORE.INCIDENT_SLA_BREACH_MODEL",
                       "INCIDENTS_PROD.CORE.INCIDENT_VOLUME_MODEL"]
    assert session.conn.sent[-3] == "ALTER TASK INCIDENTS_PROD.CORE.PREDICT_SCORE_TASK RESUME"
    assert result.evaluation["escalation"] == [{"dataset_type": "EVAL", "error_metric": "f1", "metric_value": 0.71}]

    scoring = _snowflake_session()
    scored = predict.score(scoring, dep, "snowflake:test")
    assert "CALL INCIDENTS_PROD.CORE.PREDICT_SCORE_OPEN_INCIDENTS()" in scoring.conn.sent
    assert scored.open_incidents == 40 and scored.forecast_weeks == {"snowflake_ml_forecast": 12}
    with pytest.raises(StateError, match="run `incidents predict train --env prod` first"):
        predict.score(_snowflake_session(missing=True), dep, "snowflake:test")


# --------------------------------------------------------------------------- start-up

def test_the_cli_imports_no_model_library_at_start() -> None:
    code = "import sys, incidents.cli; print(sorted(m for m in ('sklearn', 'statsmodels', 'pandas', 'joblib') " \
           "if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_workspace_predict_names_its_actions(project_copy: Path) -> None:
    import incidents

    with incidents.Workspace.open(project_copy) as ws, pytest.raises(ConfigError, match="expected train, score or"):
        ws.predict("forecast")


@pytest.fixture(autouse=True)
def _isolated(local_dir: Path) -> Iterator[None]:
    """Every test here on a local target folder of its own (models are stored in it)."""
    yield
