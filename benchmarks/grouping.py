"""Alert grouping against known truth, with the ungrouped pass as the baseline from the same run.

    python benchmarks/grouping.py [--episodes 2000 20000] [--seed 28]

For each size: alert storms with known truth (src/incidents/seed/alerts.py: 80 % of the episodes in storms of
2-40 alerts on one service, the rest alone; every episode fires and resolves, shuffled), ingested in one call
into a fresh local database with config/ingest.yml's grouping, and again with grouping off. Prints incidents
opened against the ideal (one per storm), storms opened as exactly one incident (recall), incidents holding
alerts of one storm only (purity), and the time of each ingest. Asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, nargs="+", default=[2000, 20_000])
    parser.add_argument("--seed", type=int, default=28)
    args = parser.parse_args(argv)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*Arrow output.*")
    for n in args.episodes:
        measure(n, args.seed)
    return 0


def measure(n: int, seed: int) -> None:
    import incidents
    from incidents.ingest.parse import derived_fingerprint
    from incidents.project.ingest import load_ingest_config
    from incidents.seed.alerts import alert_storms

    with incidents.Workspace.open(ROOT) as probe:
        cfg = load_ingest_config(probe.project)
    assert cfg.grouping is not None, "config/ingest.yml declares no grouping"
    sample = alert_storms(n, seed=seed, window_minutes=cfg.grouping.window_minutes)
    text = "\n".join(sample.lines)
    storm_of = {}
    for line in sample.lines:
        labels = json.loads(line)["labels"]
        storm_of[derived_fingerprint(labels)] = sample.storm_of[labels["instance"]]
    ideal = len(set(storm_of.values()))
    print(f"\n== {sample.episodes:,} alert episodes ({len(sample.lines):,} notifications), {sample.storms:,} storms, "
          f"ideal {ideal:,} incidents; grouping by {', '.join(cfg.grouping.by)}, window "
          f"{cfg.grouping.window_minutes} min, life {cfg.grouping.max_life_minutes} min; load {os.getloadavg()[0]:.1f}")
    for label, grouping in (("grouped", cfg.grouping), ("baseline: one incident per episode", None)):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["INCIDENTS_LOCAL_DIR"] = str(Path(tmp) / "local")
            with incidents.Workspace.open(ROOT) as ws:
                ws.deploy()
                report, seconds = _ingest(ws, text, dataclasses.replace(cfg, grouping=grouping))
                members = _incident_of(ws) if grouping else {fp: fp for fp in storm_of}
        scores = _scores(members, storm_of)
        print(f"  {label:<36} {report.opened:>7,} incidents ({report.opened / ideal:.2f} x ideal), "
              f"storms as one incident {scores[0]:.3f}, pure incidents {scores[1]:.3f}; ingest {seconds:.2f} s "
              f"({sample.episodes / seconds:,.0f} episodes/s)")


def _ingest(ws: object, text: str, cfg: object) -> tuple[object, float]:
    from incidents.ingest import ingest_text

    t0 = time.perf_counter()
    report = ingest_text(ws.session, ws.dep, text, cfg=cfg)  # type: ignore[attr-defined]
    return report, time.perf_counter() - t0


def _incident_of(ws: object) -> dict[str, object]:
    rows = ws.query("SELECT FINGERPRINT, INCIDENT_ID FROM INCIDENT_ALERTS")  # type: ignore[attr-defined]
    return {r["FINGERPRINT"]: r["INCIDENT_ID"] for r in rows}


def _scores(incident_of: dict[str, object], storm_of: dict[str, int]) -> tuple[float, float]:
    """(storms whose every episode is in one incident holding nothing else, incidents of one storm only)."""
    incidents_of_storm: dict[int, set[object]] = {}
    storms_of_incident: dict[object, set[int]] = {}
    for fingerprint, storm in storm_of.items():
        incident = incident_of.get(fingerprint, ("missing", fingerprint))
        incidents_of_storm.setdefault(storm, set()).add(incident)
        storms_of_incident.setdefault(incident, set()).add(storm)
    pure = {i for i, storms in storms_of_incident.items() if len(storms) == 1}
    whole = sum(1 for found in incidents_of_storm.values() if len(found) == 1 and found <= pure)
    return whole / len(incidents_of_storm), len(pure) / len(storms_of_incident)


if __name__ == "__main__":
    raise SystemExit(main())
