"""Benchmark `incidents ingest` on the local target; prints figures, asserts nothing.

    python benchmarks/ingest.py [--alerts 100000] [--baseline-alerts 100]

1. one ingest call of N alerts in Alertmanager webhook payloads (10 alerts a payload): 60% open a
   new episode, 25% resolve one of them, 15% are repeats with a new annotation value; wall time
   split into parse, bulk land and the set-based pass, and the number of statements sent;
2. the same input again (must change nothing: the idempotent re-ingest);
3. baseline, measured in the same run: the same code fed one alert per call (what a receiver
   without batching would do), alerts/s and the ratio (target: 100k alerts in < 20 s).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from incidents.project.deployment import Deployment

ROOT = Path(__file__).resolve().parents[1]
ZERO = "0001-01-01T00:00:00Z"


def deployed(path: Path):  # type: ignore[no-untyped-def]
    from incidents.engine.desired import creation_statements
    from incidents.project.config import environment, load_project
    from incidents.targets.local import open_local

    project = load_project(ROOT)
    env = environment(project, "dev")
    session = open_local(path, env)
    for sql in creation_statements(Deployment(project, env)):
        session.execute(sql)
    session.execute("INSERT INTO INCIDENT_CATEGORIES (CATEGORY_ID, CODE, NAME) VALUES (1, 'SYSTEM_OUTAGE', 'a'), "
                    "(2, 'PAYMENT', 'b'), (3, 'PERFORMANCE', 'c')")
    return session, project, env


def alerts(n: int, prefix: str = "") -> list[dict]:
    opened = int(n * 0.60)
    out = []
    for i in range(n):
        k = i if i < opened else (i - opened) % opened
        status = "resolved" if opened <= i < opened + int(n * 0.25) else "firing"
        labels = {"alertname": f"{prefix}Alert{k % 500}", "job": f"svc-{k % 40}", "instance": f"10.0.{k % 250}.{k % 7}",
                  "severity": ("critical", "warning", "info")[k % 3], "team": ("payments", "storefront", "ops")[k % 3],
                  "shard": str(k)}
        out.append({"status": status, "labels": labels,
                    "annotations": {"summary": f"Alert {k} is firing", "description": f"value {i}"},
                    "startsAt": f"2026-11-{1 + k % 28:02d}T{k % 24:02d}:{k % 60:02d}:00Z",
                    "endsAt": f"2026-11-{1 + k % 28:02d}T{k % 24:02d}:59:00Z" if status == "resolved" else ZERO,
                    "generatorURL": "http://prometheus:9090/graph", "fingerprint": f"{prefix}{k:016x}"})
    return out


def payloads(items: list[dict], size: int = 10) -> str:
    docs = []
    for i in range(0, len(items), size):
        group = items[i:i + size]
        docs.append(json.dumps({"receiver": "incidents", "status": group[0]["status"], "alerts": group,
                                "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                                "externalURL": "http://alertmanager:9093", "version": "4", "groupKey": "{}:{}",
                                "truncatedAlerts": 0}))
    return "\n".join(docs)


def timed_ingest(session, project, env, text: str):  # type: ignore[no-untyped-def]
    from incidents.ingest import ingest_text

    first = len(session.trace)
    start = time.perf_counter()
    report = ingest_text(session, Deployment(project, env), text)
    seconds = time.perf_counter() - start
    sent = session.trace[first:]
    pass_seconds = sum(s.seconds for s in sent if s.obj and s.obj.startswith("ingest "))
    return report, seconds, pass_seconds, len(sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--baseline-alerts", type=int, default=100)
    args = parser.parse_args()
    from incidents.ingest import now_utc
    from incidents.ingest.parse import parse

    with tempfile.TemporaryDirectory() as tmp:
        session, project, env = deployed(Path(tmp) / "bulk")
        text = payloads(alerts(args.alerts))
        start = time.perf_counter()
        parse(text, received_at=now_utc(), load_id="x")
        parse_seconds = time.perf_counter() - start
        report, seconds, pass_seconds, statements = timed_ingest(session, project, env, text)
        print(f"bulk      : {report.alerts:,} alerts in {report.documents:,} payloads in {seconds:.2f} s "
              f"= {report.alerts / seconds:,.0f} alerts/s ({statements} statements; parse {parse_seconds:.2f} s, "
              f"pass {pass_seconds:.2f} s, land + rest {seconds - parse_seconds - pass_seconds:.2f} s)")
        print(f"            {report.episodes:,} episodes: {report.opened:,} opened, {report.resolved:,} resolved, "
              f"{report.repeated:,} repeated")
        again, re_seconds, _, re_statements = timed_ingest(session, project, env, text)
        print(f"re-ingest : {re_seconds:.2f} s ({re_statements} statements), opened {again.opened}, "
              f"resolved {again.resolved}, repeated {again.repeated} (expected 0, 0, 0)")
        session.close()

        session, project, env = deployed(Path(tmp) / "baseline")
        one_by_one = alerts(args.baseline_alerts, prefix="b")
        start = time.perf_counter()
        for alert in one_by_one:
            timed_ingest(session, project, env, json.dumps(alert))
        base_seconds = time.perf_counter() - start
        session.close()
        base_rate = len(one_by_one) / base_seconds
        rate = report.alerts / seconds
        print(f"baseline  : {len(one_by_one):,} alerts one per call in {base_seconds:.2f} s "
              f"= {base_rate:,.1f} alerts/s")
        print(f"ratio     : {rate / base_rate:,.0f}x faster in bulk; 100k alerts would take "
              f"{100_000 / rate:.1f} s (goal < 20 s)")


if __name__ == "__main__":
    main()
