"""`incidents predict train | score | backtest`: escalation and SLA-breach risk, resolution-time
estimates and a weekly volume forecast (see README, "Predictions and planning")."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from incidents.cli import formatters as fmt
from incidents.cli.common import (
    ConnectionOpt,
    EnvOpt,
    ProjectOpt,
    QuietOpt,
    TextJson,
    VerboseOpt,
    _errors,
    _workspace,
    show,
)

if TYPE_CHECKING:
    from incidents.predict.results import BacktestResult, ScoreResult, TrainResult

app = typer.Typer(
    name="predict",
    help="Escalation and SLA-breach risk, resolution-time estimates and a weekly volume forecast, backtested.\n\n"
         "Two tiers write the same tables (incident_predictions, volume_forecast): the SQL baseline, always on, "
         "and models where config/predict.yml turns them on (scikit-learn and statsmodels locally, SNOWFLAKE.ML on "
         "Snowflake).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
FormatOpt = Annotated[TextJson, typer.Option("--format", "-f", help="Output format.")]


def _progress(enabled: bool) -> Callable[[str], None] | None:
    if not enabled:
        return None
    console = fmt.console(stderr=True)
    return lambda message: console.print(f"[dim]{fmt.escape(message)}[/]")


@app.command()
def train(
    output: FormatOpt = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train the model tier on every outcome known now; progress on stderr.

    Local target: gradient boosting (escalation, SLA breach, resolution-time quantiles) and Holt-Winters
    (weekly volume), stored in .incidents/models/<env>/vNNNN/. Snowflake: SNOWFLAKE.ML.CLASSIFICATION and
    SNOWFLAKE.ML.FORECAST models, the scoring procedure and its task. Needs `models: {<env>: true}` in
    config/predict.yml; too little history is exit 2 with the count.

    Examples: incidents predict train; incidents predict train --env prod --format json
    """
    with _errors(output is TextJson.json), _workspace(project_dir, env, connection, verbose) as ws:
        result = cast("TrainResult", ws.predict("train", on_progress=_progress(output is TextJson.text and not quiet)))
        show(result, output, lambda: _train_text(result))


@app.command()
def score(
    output: FormatOpt = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Estimate every open incident and the next 12 weeks of volume (incident_predictions, volume_forecast).

    The SQL baseline always; the model tier too where it is on and trained. A run replaces the rows of
    the same model for the open incidents (rows of incidents closed since are kept). The views
    v_open_incident_risk, v_team_capacity and v_volume_forecast_12w read the result.

    Examples: incidents predict score; incidents predict score --format json
    """
    with _errors(output is TextJson.json), _workspace(project_dir, env, connection, verbose) as ws:
        result = cast("ScoreResult", ws.predict("score", on_progress=_progress(output is TextJson.text and not quiet)))
        show(result, output, lambda: _score_text(result))


@app.command()
def backtest(
    output: FormatOpt = TextJson.text,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """How good the estimates are: train on the past, score the next weeks, roll forward.

    The model and the SQL baseline on the same incidents, in the same run: AUC, Brier score and a
    calibration table (escalation, SLA breach), MAE of ln(hours) and P10-P90 coverage (resolution
    time), weekly MAPE with the Black Friday weeks apart (volume), and the model refitted on shuffled
    labels (its AUC should fall to ~0.5). Writes nothing. Settings: backtest: in config/predict.yml.

    Examples: incidents predict backtest; incidents predict backtest --format json > backtest.json
    """
    with _errors(output is TextJson.json), _workspace(project_dir, env, connection, verbose) as ws:
        result = cast("BacktestResult",
                      ws.predict("backtest", on_progress=_progress(output is TextJson.text and not quiet)))
        show(result, output, lambda: _backtest_text(result))


# --------------------------------------------------------------------------- text output

def _train_text(result: TrainResult) -> None:
    out = fmt.console()
    rows = ", ".join(f"{k} {v:,}" for k, v in result.training_incidents.items())
    out.print(f"Trained {result.tier} models {fmt.escape(result.version)} for env {fmt.escape(result.env)} in "
              f"{result.seconds:.1f}s on incidents with a known outcome: {fmt.escape(rows)}.")
    if result.volume:
        v = result.volume
        out.print(f"Weekly volume: Holt-Winters on {v['days']} days, peak factor {v['peak_factor']} "
                  f"(from {fmt.escape(str(v['peak_factor_source']))}).")
    for target, rows_ in result.evaluation.items():
        figures = ", ".join(f"{r.get('error_metric')} {r.get('metric_value')}" for r in rows_)
        out.print(f"Snowflake's evaluation of {fmt.escape(target)}: {fmt.escape(figures)}")
    out.print(f"Stored in {fmt.escape(result.location)}; next: incidents predict score")


def _score_text(result: ScoreResult) -> None:
    out = fmt.console()
    rows = ", ".join(f"{k} {v:,} rows" for k, v in result.predictions.items()) or "no rows"
    weeks = ", ".join(f"{k} {v} weeks" for k, v in result.forecast_weeks.items()) or "no weeks"
    out.print(f"Scored {result.open_incidents:,} open incidents (env {fmt.escape(result.env)}) in "
              f"{result.seconds:.1f}s: {fmt.escape(rows)}; volume forecast: {fmt.escape(weeks)}.")
    for note in result.notes:
        fmt.error_line("note", note)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _backtest_text(result: BacktestResult) -> None:
    out = fmt.console()
    s, h = result["settings"], result["history"]
    out.print(f"Backtest of env {fmt.escape(result.env)} on {result['incidents']:,} incidents "
              f"({fmt.escape(h['from'][:10])} to {fmt.escape(h['to'][:10])}): {s['folds']} folds of "
              f"{s['horizon_weeks']} weeks, model and SQL baseline on the same incidents, "
              f"{result['seconds']['total']:.1f}s.\n")
    lines = [("target", "figure", "model", "baseline", "")]
    for name in ("escalation", "sla_breach"):
        t = result[name]
        shuffled = t["shuffled_labels_model"]
        lines.append((name, "AUC", _num(t["model"]["auc"]), _num(t["baseline"]["auc"]),
                      f"shuffled labels: {_num(shuffled['auc'])}"))
        lines.append(("", "Brier", _num(t["model"]["brier"], 4), _num(t["baseline"]["brier"], 4),
                      f"{t['test_incidents']:,} incidents, {_pct(t['observed_rate'])} positive"))
    r = result["resolution_hours"]
    lines.append(("resolution_hours", "MAE ln(hours)", _num(r["model"]["mae_log_hours"]),
                  _num(r["baseline"]["mae_log_hours"]), f"{r['test_incidents']:,} incidents"))
    lines.append(("", "P10-P90 coverage", _pct(r["model"]["p10_p90_coverage"]),
                  _pct(r["baseline"]["p10_p90_coverage"]), "should be about 80%"))
    v = result["weekly_volume"]
    if v.get("test_weeks"):
        lines.append(("weekly volume", "MAPE", f"{_num(v['model']['weekly_mape'], 1)}%",
                      f"{_num(v['baseline']['weekly_mape'], 1)}%",
                      f"{v['test_weeks']} weeks, 80% interval held {_pct(v['model']['interval_80_coverage'])}"))
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    for line in lines:
        out.print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip(), highlight=False)
    for week in v.get("peak_weeks", []):
        base = "-" if week["baseline"] is None else f"{week['baseline']:,.0f}"
        out.print(f"\nPeak week {week['week_start']} ({week['peak_days']} Black Friday to Cyber Monday days): "
                  f"{week['actual']:,.0f} incidents; model {week['model']:,.0f} ({_num(week['model_ape'], 1)}% off, "
                  f"peak factor {week['peak_factor']} from {week['peak_factor_source']}); baseline {base}.",
                  highlight=False)
