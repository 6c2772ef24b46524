"""Benchmark `incidents ingest` and the receiver's batches on the local target; prints figures,
asserts nothing.

    python benchmarks/ingest.py [--alerts 1000000] [--small 100000] [--baseline-alerts 100] [--batches 20]

1. `incidents ingest FILE` as a process, on N alerts (default 1M) and, as the baseline measured in
   the same run, on --small alerts (default 100k): wall time and peak RSS of each, and the ratio of
   the peaks (memory flat in input size means a ratio near 1 for 10x the alerts). Alertmanager
   webhook payloads, 10 alerts a payload: 60% open a new episode, 25% resolve one of them, 15% are
   repeats with a new annotation value. Goal: 1M alerts in <= 60 s.
2. the same N alerts again: the idempotent re-ingest (must open, resolve and repeat nothing).
3. one alert per call, in-process (what a receiver without batching would do): alerts/s, and the
   ratio to the bulk rate.
4. the receiver's batches on the local target: the database opened and closed for every batch (so
   other commands get in between) against one session held open, ms per batch of 10 alerts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZERO = "0001-01-01T00:00:00Z"


def deployed(path: Path):  # type: ignore[no-untyped-def]
    """A local target at `path` with every declared object (the category tree included)."""
    from incidents.engine.desired import creation_statements
    from incidents.project.config import environment, load_project
    from incidents.project.deployment import Deployment
    from incidents.targets.local import open_local

    dep = Deployment(load_project(ROOT), environment(load_project(ROOT), "dev"))
    session = open_local(path, dep.env)
    for sql in creation_statements(dep):
        session.execute(sql)
    return session, dep


def alert(i: int, n: int, prefix: str = "") -> dict:
    """Alert i of n: the first 60% open episodes, the next 25% resolve some, the rest repeat them."""
    opened = int(n * 0.60)
    k = i if i < opened else (i - opened) % opened
    status = "resolved" if opened <= i < opened + int(n * 0.25) else "firing"
    labels = {"alertname": f"{prefix}Alert{k % 500}", "job": f"svc-{k % 40}", "instance": f"10.0.{k % 250}.{k % 7}",
              "severity": ("critical", "warning", "info")[k % 3], "team": ("payments", "storefront", "ops")[k % 3],
              "shard": str(k)}
    return {"status": status, "labels": labels,
            "annotations": {"summary": f"Alert {k} is firing", "description": f"value {i}"},
            "startsAt": f"2026-11-{1 + k % 28:02d}T{k % 24:02d}:{k % 60:02d}:00Z",
            "endsAt": f"2026-11-{1 + k % 28:02d}T{k % 24:02d}:59:00Z" if status == "resolved" else ZERO,
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": f"{prefix}{k:016x}"}


def alerts(n: int, prefix: str = "") -> list[dict]:
    return [alert(i, n, prefix) for i in range(n)]


def write_payloads(path: Path, n: int, size: int = 10) -> None:
    """N alerts as webhook payloads, one a line, written as they are made (the generator stays small)."""
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, n, size):
            group = [alert(i, n) for i in range(start, min(start + size, n))]
            out.write(json.dumps({"receiver": "incidents", "status": group[0]["status"], "alerts": group,
                                  "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                                  "externalURL": "http://alertmanager:9093", "version": "4", "groupKey": "{}:{}",
                                  "truncatedAlerts": 0}) + "\n")


def cli_ingest(project: Path, local: Path, path: Path) -> tuple[dict, float, int]:
    """`incidents ingest FILE --format json` in a process of its own: its report, wall s, peak RSS KiB."""
    env = {**os.environ, "INCIDENTS_LOCAL_DIR": str(local)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "incidents", "ingest", str(path), "--format", "json",
                                 "--project-dir", str(project)], stdout=out, stderr=err, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"ingest failed ({proc.returncode}): {err.read().decode()[-2000:]}")
        return json.loads(out.read()), seconds, usage.ru_maxrss


def one_by_one(tmp: Path, n: int) -> float:
    from incidents.ingest import ingest_text

    session, dep = deployed(tmp / "one-by-one")
    items = alerts(n, prefix="b")
    start = time.perf_counter()
    for alert in items:
        ingest_text(session, dep, json.dumps(alert))
    seconds = time.perf_counter() - start
    session.close()
    return n / seconds


def receiver_batches(tmp: Path, batches: int) -> tuple[float, float]:
    """ms per batch of 10 alerts: the local database opened for each batch (so other commands get
    in between) against one held session."""
    from incidents.ingest.parse import AlertReader, read_documents, text_blocks
    from incidents.ingest.receiver import Store
    from incidents.project.ingest import load_ingest_config

    figures = []
    for hold in (False, True):
        path = tmp / f"receiver-{hold}"
        session, dep = deployed(path)
        session.close()
        os.environ["INCIDENTS_LOCAL_DIR"] = str(path)
        store = Store(dep, None, load_ingest_config(dep.project), hold=hold)
        items = alerts(batches * 10, prefix=f"r{hold}")
        start = time.perf_counter()
        for b in range(batches):
            reader = AlertReader("auto", time_now())
            body = "\n".join(json.dumps(a) for a in items[b * 10:(b + 1) * 10])
            store([row for doc in read_documents(text_blocks(body)) for row in reader.rows(doc)])
        figures.append((time.perf_counter() - start) / batches * 1000)
        store.close()
    return figures[0], figures[1]


def time_now():  # type: ignore[no-untyped-def]
    from incidents.ingest import now_utc

    return now_utc()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--baseline-alerts", type=int, default=100)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores)")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        project = tmp / "project"
        for part in ("config", "templates"):
            shutil.copytree(ROOT / part, project / part)
        template = tmp / "deployed"
        deployed(template)[0].close()
        rows = {}
        for n in (args.small, args.alerts):
            path = tmp / f"alerts-{n}.json"
            write_payloads(path, n)
            local = tmp / f"local-{n}"
            shutil.copytree(template, local)
            report, seconds, peak = cli_ingest(project, local, path)
            rows[n] = (report, seconds, peak, path, local)
            print(f"ingest {n:>9,} alerts ({path.stat().st_size / 1e6:,.0f} MB): {seconds:6.1f} s wall "
                  f"({report['seconds']:.1f} s in ingest), {n / seconds:,.0f} alerts/s, peak RSS "
                  f"{peak / 1024:,.0f} MiB; opened {report['opened']:,}, resolved {report['resolved']:,}")
        small, large = rows[args.small], rows[args.alerts]
        print(f"memory    : {args.alerts // args.small}x the alerts, {large[2] / small[2]:.2f}x the peak RSS "
              f"(baseline {args.small:,} alerts, same run); goal: 1M alerts in <= 60 s")
        again, re_seconds, re_peak = cli_ingest(project, large[4], large[3])
        print(f"re-ingest : {re_seconds:.1f} s, peak RSS {re_peak / 1024:,.0f} MiB; opened {again['opened']}, "
              f"resolved {again['resolved']}, repeated {again['repeated']} (expected 0, 0, 0)")
        rate = one_by_one(tmp, args.baseline_alerts)
        print(f"one by one: {rate:,.1f} alerts/s over {args.baseline_alerts} calls; bulk is "
              f"{(args.alerts / large[1]) / rate:,.0f}x faster")
        per_batch, held = receiver_batches(tmp, args.batches)
        print(f"receiver  : {per_batch:,.0f} ms per batch of 10 alerts with the local database opened per batch, "
              f"{held:,.0f} ms with one session held ({per_batch - held:+,.0f} ms: the price of letting other "
              "commands in)")
        print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
