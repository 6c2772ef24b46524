"""The SQL baseline: estimates from history, group by group, smoothed toward coarser groups
(templates/predict/_baseline.sql.j2), and a trailing 8-week mean of the weekly volume. The same SQL
runs on every target; this module only renders it (pure) and runs it."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from incidents.predict.history import MIN_HOURS
from incidents.project.deployment import Deployment
from incidents.sql.session import Session

if TYPE_CHECKING:
    import pandas as pd

MODEL_NAME = "sql_baseline"
VOLUME_MODEL_NAME = "sql_trailing_mean"
VOLUME_VERSION = "8-weeks"
# From coarse to fine: each level adds its keys to the levels before it. Priority and category carry
# most of the signal, so they come first; the time of day is the finest cut.
LEVELS: tuple[tuple[str, ...], ...] = (
    ("priority",),
    ("top_category_id",),
    ("category_id",),
    ("severity", "impact_level"),
    ("source", "team"),
    ("revenue_band", "customers_band"),
    ("hour_band", "is_weekend"),
)
Z80 = 1.2815515655446004  # the standard normal's 90th percentile: mean +- Z80 x sd holds 80%


def version(smoothing: float) -> str:
    return f"m{smoothing:g}-levels{len(LEVELS)}"


def _cumulative() -> list[list[str]]:
    out: list[list[str]] = []
    for level in LEVELS:
        out.append([*(out[-1] if out else []), *level])
    return out


def _ctx(dep: Deployment, **extra: Any) -> dict[str, Any]:
    levels = _cumulative()
    return dep.context(levels=levels, keys=levels[-1], min_hours=MIN_HOURS, **extra)


def estimates_sql(dep: Deployment, *, trained_before: dt.datetime | None,
                  scored_from: dt.datetime, scored_to: dt.datetime, smoothing: float) -> str:
    """The baseline for the incidents created in [scored_from, scored_to), from the outcomes known
    before `trained_before` (the backtest)."""
    return dep.render("predict/baseline_estimates.sql.j2",
                           **_ctx(dep, trained_before=trained_before, scope="window",
                                  scored_from=scored_from, scored_to=scored_to, smoothing=smoothing))


def estimates(session: Session, dep: Deployment, **options: Any) -> pd.DataFrame:
    from incidents.predict.frames import fetch_frame

    return fetch_frame(session, estimates_sql(dep, **options), obj="SQL baseline")


def score_statements(dep: Deployment, *, scored_at_sql: str, smoothing: float) -> list[str]:
    """Replace the baseline's rows of every open incident (DELETE, then one INSERT ... SELECT), and
    its 12-week volume forecast. `scored_at_sql` is the SQL of the run's one timestamp (a literal,
    or a procedure's variable)."""
    ctx = _ctx(dep, trained_before=None, scope="open", smoothing=smoothing, scored_at=scored_at_sql,
               model_version=version(smoothing), volume_version=VOLUME_VERSION, z80=Z80)

    def render(name: str, model_name: str) -> str:
        return dep.render(f"predict/{name}.sql.j2", **ctx, model_name=model_name).strip()

    return [render("predictions_delete", MODEL_NAME), render("baseline_insert", MODEL_NAME),
            render("volume_delete", VOLUME_MODEL_NAME), render("volume_baseline_insert", VOLUME_MODEL_NAME)]


def weekly_sql(dep: Deployment) -> str:
    """Complete weeks with the baseline's trailing statistics (the backtest reads them)."""
    return dep.render("predict/weekly_counts.sql.j2")


def daily_sql(dep: Deployment) -> str:
    return dep.render("predict/daily_counts.sql.j2")
