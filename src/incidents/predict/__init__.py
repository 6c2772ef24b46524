"""`incidents predict`: escalation risk, SLA-breach risk, resolution-time estimates and a weekly
volume forecast, in two tiers that write the same tables (incident_predictions, volume_forecast):

- the SQL baseline (always on, the same SQL on every target): templates/predict/_baseline.sql.j2;
- models, opt-in per environment (config/predict.yml): scikit-learn and statsmodels on the local
  target (predict/local.py, predict/volume.py, stored by predict/store.py), SNOWFLAKE.ML on Snowflake
  (predict/snowflake.py).

The views of config/views.yml (v_open_incident_risk, v_volume_forecast_12w ...) read only those two
tables, so they look the same whichever tier wrote them. `backtest` measures both tiers on the same
incidents. Heavy libraries (pandas, scikit-learn, statsmodels) are imported inside the functions.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from incidents.errors import ConfigError, StateError, TargetError
from incidents.predict.results import BacktestResult, Fit, ScoreResult, TooLittleHistory, TrainResult
from incidents.project.deployment import Deployment
from incidents.project.predict import PREDICT_FILE, PredictConfig, load_predict_config
from incidents.sql.session import Session, is_missing_object
from incidents.sql.text import literal

if TYPE_CHECKING:
    import pandas as pd

    from incidents.predict.store import Stored

Progress = Callable[[str], None]
FORECAST_WEEKS = 12  # v_volume_future's weeks


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def _say(on_progress: Progress | None) -> Progress:
    return on_progress or (lambda message: None)


def _counts(session: Session, dep: Deployment) -> dict[str, int]:
    sql = dep.render("predict/history_counts.sql.j2")
    try:
        row = session.query(sql, obj="v_prediction_features")[0]
    except TargetError as exc:
        if is_missing_object(exc):
            raise StateError(f"v_prediction_features does not exist in {dep.env.database}.{dep.env.schema}: run "
                             "`incidents deploy` first") from None
        raise
    return {k.lower(): int(v or 0) for k, v in row.items()}


def _require_history(known: int, cfg: PredictConfig, what: str) -> None:
    if known < cfg.min_incidents:
        raise TooLittleHistory(f"too little history to {what}: {known:,} incidents with a known outcome, at least "
                               f"{cfg.min_incidents:,} needed (history.min_incidents in {PREDICT_FILE})")


def _require_weeks(series: pd.Series, weeks: int, what: str) -> None:
    have = len(series) // 7
    if have < weeks:
        raise TooLittleHistory(f"too little history to {what}: {have} complete weeks of incident counts, at least "
                               f"{weeks} needed (history.min_weeks in {PREDICT_FILE})")


def check_config(dep: Deployment, action: str) -> PredictConfig:
    """config/predict.yml, and whether `action` may run in `dep.env` at all: the user's mistakes, said
    before anything about the target's state."""
    cfg = load_predict_config(dep.project)
    if action == "train" and not cfg.models_on(dep.env):
        raise ConfigError(f"models are off for env {dep.env.name}; turn them on with `{dep.env.name}: true` under "
                          "models:, or score with the SQL baseline alone (`incidents predict score`)",
                          file=PREDICT_FILE, key="models")
    return cfg


# --------------------------------------------------------------------------- train

def train(session: Session, dep: Deployment, where: str, *,
          on_progress: Progress | None = None) -> TrainResult:
    """Fit the model tier of an environment that has it on, on every outcome known now; store it
    (locally) or create the SNOWFLAKE.ML models, the scoring procedure and its task (Snowflake)."""
    cfg = check_config(dep, "train")
    if session.backend == "snowflake":
        return _train_snowflake(session, dep, where, cfg, _say(on_progress))
    return _train_local(session, dep, where, cfg, _say(on_progress))


def _train_local(session: Session, dep: Deployment, where: str, cfg: PredictConfig,
                 say: Progress) -> TrainResult:
    from incidents.predict import local, store, volume
    from incidents.predict.history import load_history

    began, trained_at = time.perf_counter(), _now()
    say("reading the history (v_prediction_features)")
    frame = load_history(session, dep)
    from incidents.predict.backtesting import enough_history

    _require_history(enough_history(frame, None), cfg, "train")
    daily = volume.daily_counts(session, dep)
    series = volume.complete_weeks(daily)
    _require_weeks(series, cfg.min_weeks, "train the volume model")
    fits: list[Fit] = []

    def on_fit(what: str, rows: int, seconds: float) -> None:
        fits.append(Fit(what, rows, seconds))
        say(f"trained {what} on {rows:,} incidents ({seconds:.1f} s)")

    models = local.fit(frame, before=None, on_fit=on_fit)
    fitted_at = time.perf_counter()
    weekly = volume.fit(series, cfg.peak_factor, volume.complete_days(daily))
    fits.append(Fit("weekly volume", len(series), time.perf_counter() - fitted_at))
    say(f"trained the weekly volume (Holt-Winters) on {len(series)} days ({fits[-1].seconds:.1f} s)")
    stored = store.save(dep, models, weekly, trained_at,
                        {"history_from": str(frame["created_at"].min()), "history_to": str(frame["created_at"].max())})
    return TrainResult(dep.env.name, where, "local", stored.version, trained_at.isoformat(sep=" "), str(stored.path),
                       dict(models.training_rows), tuple(fits), _volume_summary(weekly), {}, 0,
                       time.perf_counter() - began)


def _volume_summary(model: Any) -> dict[str, Any]:
    return {"days": model.days, "seasonal": model.seasonal, "peak_factor": round(model.peak_factor, 3),
            "thanksgiving_week_factor": round(model.week_factor, 3), "peak_factor_source": model.peak_source,
            **{k: round(v, 4) for k, v in model.params.items()}}


def _train_snowflake(session: Session, dep: Deployment, where: str, cfg: PredictConfig,
                     say: Progress) -> TrainResult:
    from incidents.kinds import ml_model
    from incidents.predict import snowflake

    began, trained = time.perf_counter(), snowflake.Trained(_now())
    counts = _counts(session, dep)
    _require_history(counts["escalation_known"], cfg, "train")
    statements = snowflake.train_statements(dep, cfg, trained)
    for statement in statements:
        head = " ".join(statement.split()[:4])
        say(f"sending {head} ...")
        session.execute(statement, obj="predict train")
    evaluation = {target: session.query(ml_model.evaluation_statement(dep, model), obj=model)
                  for model, _, target in ml_model.CLASSIFIERS}
    return TrainResult(dep.env.name, where, "snowflake", trained.version, trained.at.isoformat(sep=" "),
                       f"{dep.env.database}.{dep.env.schema}",
                       {"escalation": counts["escalation_known"], "sla_breach": counts["sla_breach_known"]},
                       (), {}, {k: [_plain(r) for r in v] for k, v in evaluation.items()}, len(statements),
                       time.perf_counter() - began)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): (v if isinstance(v, (int, float, str, type(None))) else str(v)) for k, v in row.items()}


# --------------------------------------------------------------------------- score

def score(session: Session, dep: Deployment, where: str, *,
          on_progress: Progress | None = None) -> ScoreResult:
    """Estimates for every open incident and the next 12 weeks of volume: the SQL baseline always, the
    model tier where it is on and trained. Earlier rows of the same model are replaced."""
    cfg = load_predict_config(dep.project)
    say = _say(on_progress)
    began, scored_at = time.perf_counter(), _now()
    counts = _counts(session, dep)
    if counts["open_incidents"] and not counts["escalation_known"] and not counts["resolution_known"]:
        raise TooLittleHistory(f"too little history to score: 0 of {counts['incidents']:,} incidents have a known "
                               "outcome, so there is nothing to estimate from")
    notes: list[str] = []
    version = None
    if session.backend == "snowflake" and cfg.models_on(dep.env):
        version = _score_snowflake(session, dep, say)
    else:
        from incidents.predict import baseline

        say("SQL baseline: open incidents and the volume forecast")
        for statement in baseline.score_statements(dep, scored_at_sql=literal(scored_at),
                                                   smoothing=cfg.smoothing):
            session.execute(statement, obj="predict score")
        if cfg.models_on(dep.env):
            version = _score_local(session, dep, cfg, scored_at, notes, say)
    written = _run_counts(session, dep)
    return ScoreResult(dep.env.name, where, scored_at.isoformat(sep=" "), counts["open_incidents"],
                       written.get("incident_predictions", {}), written.get("volume_forecast", {}), version,
                       tuple(notes), time.perf_counter() - began)


def _score_snowflake(session: Session, dep: Deployment, say: Progress) -> str | None:
    from incidents.predict import snowflake

    say(f"calling {snowflake.PROCEDURE.upper()}() (SQL baseline, !PREDICT, !FORECAST)")
    sql = snowflake.call_sql(dep)
    try:
        session.execute(sql, obj=snowflake.PROCEDURE)
    except TargetError as exc:
        if is_missing_object(exc):
            raise StateError(f"no trained model in env {dep.env.name} ({snowflake.PROCEDURE.upper()} does not exist): "
                             f"run `incidents predict train --env {dep.env.name}` first") from None
        raise
    return None


def _score_local(session: Session, dep: Deployment, cfg: PredictConfig, scored_at: dt.datetime,
                 notes: list[str], say: Progress) -> str | None:
    from incidents.predict import store

    stored = store.load_latest(dep)
    if stored is None:
        notes.append(f"no trained model for env {dep.env.name} yet: scored with the SQL baseline only; run "
                     "`incidents predict train`")
        return None
    say(f"model {stored.version}: open incidents and the volume forecast")
    _write_incident_rows(session, dep, stored, scored_at)
    _write_volume_rows(session, dep, stored, scored_at, notes)
    return stored.version


def _write_incident_rows(session: Session, dep: Deployment, stored: Stored,
                         scored_at: dt.datetime) -> None:
    import pandas as pd

    from incidents.predict import local
    from incidents.predict.history import load_history
    from incidents.seed.load import Loader

    estimates = local.predict(stored.incidents, load_history(session, dep, open_only=True))
    parts = []
    for target, value, low, high in (("escalation", "p_escalation", None, None),
                                     ("sla_breach", "p_sla_breach", None, None),
                                     ("resolution_hours", "res_p50", "res_p10", "res_p90")):
        parts.append(pd.DataFrame({
            "INCIDENT_ID": estimates["incident_id"].astype("int64"), "TARGET": target,
            "VALUE": estimates[value].astype(float),
            "INTERVAL_LOW": estimates[low].astype(float) if low else float("nan"),
            "INTERVAL_HIGH": estimates[high].astype(float) if high else float("nan"),
            "TIER": "model", "MODEL_NAME": local.MODEL_NAME, "MODEL_VERSION": stored.version,
            "TRAINING_INCIDENTS": int(stored.incidents.training_rows.get(target, 0)),
            "TRAINED_AT": stored.trained_at, "SCORED_AT": scored_at}))
    rows = pd.concat(parts, ignore_index=True)
    _replace(session, dep, "predictions_delete", local.MODEL_NAME)
    if len(rows):
        Loader(session, dep, tables=("incident_predictions",)).write("incident_predictions", rows)


def _write_volume_rows(session: Session, dep: Deployment, stored: Stored,
                       scored_at: dt.datetime, notes: list[str]) -> None:
    import pandas as pd

    from incidents.predict import volume
    from incidents.seed.load import Loader

    series = volume.complete_weeks(volume.daily_counts(session, dep))
    if stored.volume is None or series.empty or series.index[0].date() > stored.volume.start:
        notes.append("the volume model does not fit this history (it was purged or replaced since training): "
                     "run `incidents predict train`")
        return
    forecast = volume.forecast(stored.volume, series, FORECAST_WEEKS)
    rows = pd.DataFrame({
        "WEEK_START": pd.to_datetime(forecast["week_start"]), "WEEKS_AHEAD": forecast["weeks_ahead"].astype("int64"),
        "FORECAST_INCIDENTS": forecast["forecast"], "INTERVAL_LOW": forecast["interval_low"],
        "INTERVAL_HIGH": forecast["interval_high"], "PEAK_DAYS": forecast["peak_days"].astype("int64"),
        "TIER": "model", "MODEL_NAME": volume.MODEL_NAME, "MODEL_VERSION": stored.version,
        "TRAINED_AT": stored.trained_at, "SCORED_AT": scored_at})
    _replace(session, dep, "volume_delete", volume.MODEL_NAME)
    Loader(session, dep, tables=("volume_forecast",)).write("volume_forecast", rows)


def _replace(session: Session, dep: Deployment, template: str, model_name: str) -> None:
    sql = dep.render(f"predict/{template}.sql.j2", model_name=model_name)
    session.execute(sql, obj="predict score")


def _run_counts(session: Session, dep: Deployment) -> dict[str, dict[str, int]]:
    sql = dep.render("predict/run_counts.sql.j2")
    out: dict[str, dict[str, int]] = {}
    for row in session.query(sql, obj="predict score"):
        out.setdefault(str(row["TABLE_NAME"]), {})[str(row["MODEL_NAME"])] = int(row["ROWS_WRITTEN"])
    return out


# --------------------------------------------------------------------------- backtest

def backtest(session: Session, dep: Deployment, where: str, *,
             on_progress: Progress | None = None) -> BacktestResult:
    """Both tiers on the same time-split folds (see predict/backtesting.py); figures named for what they
    measure. Runs the local models in memory whatever the environment (nothing is stored)."""
    from incidents.predict import backtesting as bt
    from incidents.predict import volume
    from incidents.predict.history import load_history

    cfg = load_predict_config(dep.project)
    say = _say(on_progress)
    began = time.perf_counter()
    say("reading the history (v_prediction_features)")
    frame = load_history(session, dep)
    if frame.empty:
        raise TooLittleHistory("too little history to backtest: no incidents")
    first = bt.folds(frame["created_at"].max().to_pydatetime(), cfg)[0]
    _require_history(bt.enough_history(frame, first.train_before), cfg,
                     f"backtest (trained before {first.train_before:%Y-%m-%d}, the first fold)")
    series = volume.complete_weeks(volume.daily_counts(session, dep))
    _require_weeks(series, cfg.min_weeks + cfg.folds * cfg.horizon_weeks, "backtest the volume forecast")
    read = time.perf_counter()
    incidents = bt.incident_backtest(session, dep, cfg, frame, say)
    modelled = time.perf_counter()
    weekly = bt.volume_backtest(session, dep, cfg, series, say)
    done = time.perf_counter()
    figures = {
        "incidents": len(frame),
        "history": {"from": str(frame["created_at"].min()), "to": str(frame["created_at"].max())},
        "settings": {"folds": cfg.folds, "horizon_weeks": cfg.horizon_weeks, "settle_weeks": cfg.settle_weeks,
                     "smoothing": cfg.smoothing},
        **incidents,
        "weekly_volume": weekly,
        "seconds": {"read": round(read - began, 2), "incidents": round(modelled - read, 2),
                    "weekly_volume": round(done - modelled, 2), "total": round(done - began, 2)},
    }
    return BacktestResult(dep.env.name, where, figures)
