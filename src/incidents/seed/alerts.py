"""Alert storms with known truth, for the grouping benchmark and its tests: Alertmanager-shaped NDJSON
alert events, some from storms (one outage firing on many instances of a service within minutes), the
rest lone alerts, each tagged with the storm it belongs to in the returned truth (never in the alert).

Storms of one service and alertname are kept more than the grouping window apart, and each lasts less
than a group's life, so the ideal grouping is known: one incident per storm, one per lone alert.
Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np

SERVICES = ("checkout", "cart", "search", "payments", "catalog", "shipping", "accounts", "recommendations")
ALERTNAMES = ("HighLatency", "ErrorRate", "PodCrashLooping", "SaturationHigh", "ProbeFailed")


@dataclass(frozen=True)
class AlertSample:
    lines: list[str]  # NDJSON alert events, firing then resolved, shuffled
    storm_of: dict[str, int]  # fingerprint-defining instance label -> storm id (a lone alert is a storm of one)
    storms: int  # storms of two or more alerts
    episodes: int  # alert episodes in all (the incidents without grouping)


def alert_storms(episodes: int, *, seed: int = 28, storm_share: float = 0.8, window_minutes: int = 10,
                 max_storm: int = 40, start: dt.datetime = dt.datetime(2026, 11, 1)) -> AlertSample:
    """About `episodes` alert episodes: `storm_share` of them in storms of 2..max_storm alerts that start
    0-3 minutes apart, the rest alone; each episode fires and then resolves 5-60 minutes later."""
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    storm_of: dict[str, int] = {}
    next_free: dict[tuple[str, str], dt.datetime] = {}  # per group key: when the next storm may begin
    clock, storm_id, made, storms = start, 0, 0, 0
    while made < episodes:
        size = int(rng.integers(2, max_storm + 1)) if rng.random() < storm_share else 1
        size = min(size, episodes - made)
        key = (SERVICES[int(rng.integers(len(SERVICES)))], ALERTNAMES[int(rng.integers(len(ALERTNAMES)))])
        clock += dt.timedelta(minutes=float(rng.exponential(5)))
        begin = max(clock, next_free.get(key, clock))
        at, last_end = begin, begin
        for i in range(size):
            instance = f"s{storm_id}-i{i}"
            duration = dt.timedelta(minutes=float(rng.uniform(5, 60)))
            lines += _episode(key, instance, at, at + duration)
            storm_of[instance] = storm_id
            last_end = max(last_end, at + duration)
            at += dt.timedelta(seconds=float(rng.uniform(0, min(180.0, 3000.0 / size))))  # a storm spans < 50 min
        # The next storm of this key starts after this one is over and more than a window later.
        next_free[key] = max(last_end, at) + dt.timedelta(minutes=window_minutes + 1)
        storms += size > 1
        storm_id += 1
        made += size
    order = rng.permutation(len(lines))
    return AlertSample([lines[i] for i in order], storm_of, storms, made)


def _episode(key: tuple[str, str], instance: str, starts: dt.datetime, ends: dt.datetime) -> list[str]:
    service, alertname = key
    labels = {"alertname": alertname, "service": service, "instance": instance, "severity": "warning"}
    base = {"labels": labels, "annotations": {"summary": f"{alertname} on {service}"}, "startsAt": _iso(starts)}
    return [json.dumps(base), json.dumps({**base, "status": "resolved", "endsAt": _iso(ends)})]


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
