"""Time-split backtests. Incidents: train on the outcomes known before a cut, score the incidents
created in the next `horizon_weeks`, move the cut forward, `folds` times; the last `settle_weeks`
before the last incident are never tested (most of their outcomes are still open). The model and the
SQL baseline are scored on the same incidents from the same cut, and a model fitted on shuffled
labels shows what the data gives by chance. Volume: from each origin week, forecast `horizon_weeks`
complete weeks with a model fitted on the days before; the weeks holding Black Friday to Cyber
Monday are reported apart."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from incidents.predict import baseline, local, metrics, volume
from incidents.predict.history import CLASSIFIED, RESOLUTION, known_before
from incidents.project.deployment import Deployment
from incidents.project.predict import PredictConfig
from incidents.sql.session import Session

if TYPE_CHECKING:
    import pandas as pd

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Fold:
    train_before: dt.datetime
    test_to: dt.datetime  # the test incidents are created in [train_before, test_to)

    def to_dict(self) -> dict[str, str]:
        return {"train_before": self.train_before.isoformat(sep=" "), "test_to": self.test_to.isoformat(sep=" ")}


def folds(last_created: dt.datetime, cfg: PredictConfig) -> list[Fold]:
    """Consecutive test windows ending settle_weeks before the day of the last incident."""
    end = dt.datetime.combine(last_created.date(), dt.time()) - dt.timedelta(weeks=cfg.settle_weeks)
    step = dt.timedelta(weeks=cfg.horizon_weeks)
    return [Fold(end - step * (cfg.folds - k), end - step * (cfg.folds - k - 1)) for k in range(cfg.folds)]


def incident_backtest(session: Session, dep: Deployment, cfg: PredictConfig,
                      frame: pd.DataFrame, progress: Progress) -> dict[str, Any]:
    """Every fold's model, shuffled-label model and baseline estimates on the same test incidents,
    pooled over the folds."""
    import pandas as pd

    cuts = folds(frame["created_at"].max().to_pydatetime(), cfg)
    scored, fold_rows = [], []
    for i, fold in enumerate(cuts, start=1):
        began = time.perf_counter()
        before = pd.Timestamp(fold.train_before)
        test = frame[(frame["created_at"] >= before) & (frame["created_at"] < pd.Timestamp(fold.test_to))]
        model = local.fit(frame, before=before, seed=i)
        # The leakage check once, on the last fold: the same model fitted on shuffled labels.
        shuffled = local.fit(frame, before=before, seed=i, shuffle_labels=True, targets=("escalation", "sla_breach")) \
            if i == len(cuts) else None
        base = baseline.estimates(session, dep, trained_before=fold.train_before,
                                  scored_from=fold.train_before, scored_to=fold.test_to, smoothing=cfg.smoothing)
        joined = _join(test, local.predict(model, test), local.predict(shuffled, test) if shuffled else None, base)
        scored.append(joined)
        fold_rows.append({**fold.to_dict(), "train_incidents": model.training_rows, "test_incidents": len(test)})
        progress(f"fold {i}/{len(cuts)}: trained before {fold.train_before:%Y-%m-%d} on "
                 f"{model.training_rows.get('escalation', 0):,} incidents, scored {len(test):,} "
                 f"({time.perf_counter() - began:.1f} s)")
    pooled = pd.concat(scored, ignore_index=True)
    return {
        "folds": fold_rows,
        **{t.name: _classification(pooled, t.label, t.name) for t in CLASSIFIED},
        RESOLUTION.name: _resolution(pooled),
    }


def _join(test: pd.DataFrame, model: pd.DataFrame, shuffled: pd.DataFrame | None,
          base: pd.DataFrame) -> pd.DataFrame:
    cols = ["incident_id", "escalated", "sla_breached", "resolution_hours"]
    out = test[cols].merge(model, on="incident_id", how="left")
    if shuffled is not None:
        out = out.merge(shuffled.add_prefix("shuffled_").rename(columns={"shuffled_incident_id": "incident_id"}),
                        on="incident_id", how="left")
    return out.merge(base.drop(columns=[c for c in base.columns if c.startswith("n_")])
                     .add_prefix("baseline_").rename(columns={"baseline_incident_id": "incident_id"}),
                     on="incident_id", how="left")


def _classification(pooled: pd.DataFrame, label: str, name: str) -> dict[str, Any]:
    rows = pooled[pooled[label].notna() & pooled[f"baseline_p_{name}"].notna()]
    y = rows[label].to_numpy(dtype=int)

    def figures(column: str, subset: pd.Series | None = None) -> dict[str, Any]:
        keep = rows[column].notna() if subset is None else subset
        yy, p = y[keep.to_numpy()], rows.loc[keep, column].to_numpy(dtype=float)
        out: dict[str, Any] = {"auc": _round(metrics.auc(yy, p)), "brier": _round(metrics.brier(yy, p))}
        if subset is None:
            out["calibration"] = metrics.calibration(yy, p)
        else:
            out["test_incidents"] = int(keep.sum())
        return out

    model, base = figures(f"p_{name}"), figures(f"baseline_p_{name}")
    last_fold = rows[f"shuffled_p_{name}"].notna()
    shuffled = {"name": f"{local.MODEL_NAME} on shuffled labels (last fold)",
                **figures(f"shuffled_p_{name}", last_fold),
                "model_on_same_incidents": figures(f"p_{name}", last_fold)}
    return {
        "test_incidents": len(rows), "observed_rate": _round(float(y.mean()) if len(y) else None),
        "model": {"name": local.MODEL_NAME, **model},
        "baseline": {"name": baseline.MODEL_NAME, **base},
        "shuffled_labels_model": shuffled,
        "model_beats_baseline": _beats(model, base),
    }


def _beats(model: dict[str, Any], base: dict[str, Any]) -> dict[str, bool | None]:
    def better(key: str, higher: bool) -> bool | None:
        a, b = model.get(key), base.get(key)
        if a is None or b is None:
            return None
        return bool(a > b) if higher else bool(a < b)

    out: dict[str, bool | None] = {}
    if "auc" in model:
        out["auc"] = better("auc", True)
    if "brier" in model:
        out["brier"] = better("brier", False)
    if "mae_log_hours" in model:
        out["mae_log_hours"] = better("mae_log_hours", False)
    return out


def _resolution(pooled: pd.DataFrame) -> dict[str, Any]:
    rows = pooled[pooled["resolution_hours"].notna() & pooled["baseline_res_p50"].notna()]
    actual = rows["resolution_hours"].to_numpy(dtype=float)

    def figures(prefix: str) -> dict[str, Any]:
        return {"mae_log_hours": _round(metrics.mae_log_hours(actual, rows[f"{prefix}res_p50"].to_numpy())),
                "p10_p90_coverage": _round(metrics.coverage(actual, rows[f"{prefix}res_p10"].to_numpy(),
                                                            rows[f"{prefix}res_p90"].to_numpy()))}

    model, base = figures(""), figures("baseline_")
    return {"test_incidents": len(rows), "model": {"name": local.MODEL_NAME, **model},
            "baseline": {"name": baseline.MODEL_NAME, **base}, "model_beats_baseline": _beats(model, base)}


def volume_backtest(session: Session, dep: Deployment, cfg: PredictConfig, series: pd.Series,
                    progress: Progress) -> dict[str, Any]:
    """Forecasts from `folds` origins `horizon_weeks` apart, the last one ending with the last complete
    week; each week's error for the model and the SQL baseline (the mean of the 8 weeks before the
    origin)."""
    import pandas as pd

    from incidents.predict.frames import fetch_frame

    weekly = fetch_frame(session, baseline.weekly_sql(dep), obj="v_volume_history")
    weekly["week_start"] = pd.to_datetime(weekly["week_start"]).dt.date
    by_week = weekly.set_index("week_start")
    end = volume.week_start(series.index[-1].date()) + dt.timedelta(days=7)  # the Monday after the last day
    h = cfg.horizon_weeks
    origins = [end - dt.timedelta(weeks=h * (cfg.folds - k)) for k in range(cfg.folds)]
    rows = []
    for origin in origins:
        if origin not in by_week.index:
            continue
        began = time.perf_counter()
        past = series[volume.dates(series) < origin]
        fitted = volume.fit(past, cfg.peak_factor)
        predicted = volume.forecast(fitted, past, h, seed=origin.toordinal())
        base = by_week.loc[origin]
        for _, week in predicted.iterrows():
            actual = by_week["incidents"].get(week["week_start"])
            if actual is None:
                continue
            rows.append({"origin": origin, "week_start": week["week_start"], "weeks_ahead": int(week["weeks_ahead"]),
                         "peak_days": int(week["peak_days"]), "actual": float(actual),
                         "model": float(week["forecast"]), "model_low": float(week["interval_low"]),
                         "model_high": float(week["interval_high"]), "baseline": _float(base["baseline_mean"]),
                         "peak_factor": fitted.peak_factor, "peak_factor_source": fitted.peak_source})
        progress(f"volume from {origin}: {h} weeks ({time.perf_counter() - began:.1f} s)")
    return _volume_figures(pd.DataFrame(rows), h)


def _volume_figures(rows: pd.DataFrame, horizon: int) -> dict[str, Any]:
    if rows.empty:
        return {"test_weeks": 0}
    usual = rows[rows["peak_days"] == 0]
    with_base = usual[usual["baseline"].notna()]
    peak = rows[rows["peak_days"] > 0]
    return {
        "test_weeks": len(usual),
        "model": {"name": volume.MODEL_NAME,
                  "weekly_mape": _round(metrics.mape(usual["actual"], usual["model"])),
                  "weekly_mape_by_weeks_ahead": {
                      str(k): _round(metrics.mape(g["actual"], g["model"]))
                      for k, g in usual.groupby("weeks_ahead")},
                  "interval_80_coverage": _round(metrics.coverage(usual["actual"], usual["model_low"],
                                                                  usual["model_high"]))},
        "baseline": {"name": baseline.VOLUME_MODEL_NAME,
                     "weekly_mape": _round(metrics.mape(with_base["actual"], with_base["baseline"]))},
        "peak_weeks": [
            {"week_start": str(r["week_start"]), "peak_days": int(r["peak_days"]), "weeks_ahead": int(r["weeks_ahead"]),
             "actual": r["actual"], "model": round(r["model"], 1),
             "model_ape": _round(metrics.mape([r["actual"]], [r["model"]])),
             "baseline": None if r["baseline"] is None else round(r["baseline"], 1),
             "baseline_ape": None if r["baseline"] is None else _round(metrics.mape([r["actual"]], [r["baseline"]])),
             "peak_factor": round(r["peak_factor"], 3), "peak_factor_source": r["peak_factor_source"]}
            for _, r in peak.iterrows()],
        "horizon_weeks": horizon,
    }


def _float(value: Any) -> float | None:
    import math

    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def enough_history(frame: pd.DataFrame, before: dt.datetime | None) -> int:
    """Incidents whose escalation outcome was known before `before`: the count the history check uses."""
    import pandas as pd

    return int(known_before(frame, CLASSIFIED[0], None if before is None else pd.Timestamp(before)).sum())
