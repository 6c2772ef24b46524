"""`incidents predict` at 100k incidents: train + backtest time, and every model figure beside the
SQL baseline's from the same run.

    python benchmarks/predict.py [--incidents 100000] [--end 2026-12-03] [--dir FOLDER]

Deploys into a fresh local database (temporary folder, or --dir, reused when already seeded), seeds
N incidents ending on --end (so every run sees the same history), then times `predict train` and
`predict backtest` (the same Workspace calls as the CLI) and prints:
  - escalation and SLA breach: AUC and Brier score of the model and of the SQL baseline on the same
    test incidents, and the model fitted on shuffled labels (the leakage check: AUC ~0.5);
  - resolution time: MAE of ln(hours) and the share of outcomes inside P10-P90;
  - weekly volume: MAPE of Holt-Winters and of the baseline (4 weeks ahead), the peak week apart;
  - the goals of issue 27: model beats baseline on AUC and Brier, coverage within 75-85%, train +
    backtest under 60 s; and the load average, since the machine is shared.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 12, 3))
    parser.add_argument("--dir", type=Path, help="local target folder to (re)use")
    parser.add_argument("--json", type=Path, help="also write the backtest's figures to this file")
    args = parser.parse_args(argv)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*Arrow output.*")
    if args.dir:
        measure(args.incidents, args.end, args.dir, args.json)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            measure(args.incidents, args.end, Path(tmp), args.json)
    return 0


def measure(n: int, end: dt.date, folder: Path, out: Path | None) -> None:
    import incidents

    os.environ["INCIDENTS_LOCAL_DIR"] = str(folder)
    with incidents.Workspace.open(ROOT, env="dev") as ws:
        began = time.perf_counter()
        ws.deploy()
        counts = ws.query("SELECT COUNT(*) AS n FROM incidents")
        if counts[0]["N"] != n:
            ws.seed(incidents=n, end=end, replace=True)
        print(f"== {n:,} incidents ending {end} (deployed and seeded in {time.perf_counter() - began:.1f} s)")
        load_before = _load()
        t0, c0 = time.perf_counter(), _cpu()
        trained = ws.predict("train")
        t1, c1 = time.perf_counter(), _cpu()
        result = ws.predict("backtest")
        t2, c2 = time.perf_counter(), _cpu()
        load_after = _load()
    figures = result.to_dict()
    if out:
        out.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    print(f"train {t1 - t0:.1f} s, CPU {c1 - c0:.1f} s ({trained.version}: "
          + ", ".join(f"{f.what} {f.seconds:.1f} s" for f in trained.fits) + ")")
    print(f"backtest {t2 - t1:.1f} s, CPU {c2 - c1:.1f} s (read {figures['seconds']['read']} s, incidents "
          f"{figures['seconds']['incidents']} s, weekly volume {figures['seconds']['weekly_volume']} s)")
    print(f"train + backtest {t2 - t0:.1f} s, CPU {c2 - c0:.1f} s (this process and its threads); load average "
          f"{load_before} before, {load_after} after (2 cores)\n")
    _table(figures)
    _goals(figures, t2 - t0, c2 - c0)


def _cpu() -> float:
    """CPU seconds of this process (DuckDB's threads included): on a shared machine the wall time
    depends on the other jobs, this does not."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _table(f: dict[str, Any]) -> None:
    print(f"{'figure':44} {'model':>9} {'baseline':>9}")
    for name in ("escalation", "sla_breach"):
        t = f[name]
        print(f"{name + ' AUC':44} {t['model']['auc']:9.4f} {t['baseline']['auc']:9.4f}")
        print(f"{name + ' Brier':44} {t['model']['brier']:9.4f} {t['baseline']['brier']:9.4f}")
        s = t["shuffled_labels_model"]
        print(f"{name + ' AUC, shuffled labels (last fold)':44} {s['auc']:9.4f} "
              f"{'':9} model on the same: {s['model_on_same_incidents']['auc']:.4f}")
    r = f["resolution_hours"]
    print(f"{'resolution_hours MAE ln(hours)':44} {r['model']['mae_log_hours']:9.4f} "
          f"{r['baseline']['mae_log_hours']:9.4f}")
    print(f"{'resolution_hours P10-P90 coverage':44} {r['model']['p10_p90_coverage']:9.4f} "
          f"{r['baseline']['p10_p90_coverage']:9.4f}")
    v = f["weekly_volume"]
    print(f"{'weekly volume MAPE % (peak weeks apart)':44} {v['model']['weekly_mape']:9.2f} "
          f"{v['baseline']['weekly_mape']:9.2f}   ({v['test_weeks']} weeks)")
    print(f"{'weekly volume 80% interval coverage':44} {v['model']['interval_80_coverage']:9.2f}")
    for w in v["peak_weeks"]:
        print(f"peak week {w['week_start']}: actual {w['actual']:,.0f}, model {w['model']:,.0f} "
              f"({w['model_ape']:.1f}% off, factor {w['peak_factor']} from {w['peak_factor_source']}), "
              f"baseline {w['baseline']:,.0f} ({w['baseline_ape']:.1f}% off)")


def _goals(f: dict[str, Any], seconds: float, cpu: float) -> None:
    beats = all(f[t]["model_beats_baseline"]["auc"] and f[t]["model_beats_baseline"]["brier"]
                for t in ("escalation", "sla_breach"))
    coverage = f["resolution_hours"]["model"]["p10_p90_coverage"]
    print(f"\ngoal: model beats baseline on AUC and Brier (both targets): {'met' if beats else 'NOT met'}")
    print(f"goal: P10-P90 coverage within 75-85%: {coverage:.1%} "
          f"{'met' if 0.75 <= coverage <= 0.85 else 'NOT met'}")
    print(f"goal: train + backtest under 60 s: {seconds:.1f} s wall {'met' if seconds < 60 else 'NOT met'} "
          f"(ratio to the goal {seconds / 60:.2f}); CPU {cpu:.1f} s")


if __name__ == "__main__":
    raise SystemExit(main())
