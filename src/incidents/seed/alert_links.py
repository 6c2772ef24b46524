"""incident_alerts of the sample data: the alerts behind each incident raised by monitoring, as alert
grouping (config/ingest.yml `grouping`) links them - its first alert (leader) and, for a storm, the alerts
that joined it within minutes (members). The share and size of storms follow what grouping saves in the
field: most alerts come alone, a few storms are large.

Drawn from a random stream of its own (never the chunk's), so adding it changed no other seeded row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from incidents.seed.columns import concat, frame, lookup, padded, text, timestamps
from incidents.seed.state import Chunk, ChunkState

ALERTNAMES = ("HighLatency", "ErrorRateHigh", "PodCrashLooping", "SaturationHigh", "ProbeFailed", "QueueBacklog")
STORM_SHARE = 0.35  # of monitoring incidents, those that stand for a storm of alerts
MEAN_EXTRA = 6.0  # alerts that joined a storm's incident, on average (geometric)
MAX_GAP_SECONDS = 120  # between one alert of a storm and the next (the window is 10 minutes)


def incident_alerts(rng: np.random.Generator, c: Chunk, s: ChunkState) -> pd.DataFrame:
    """One leader per monitoring incident, and the members of the storms among them."""
    raised = np.flatnonzero(s.classification.source == 0)  # source monitoring
    extra = np.where(rng.random(len(raised)) < STORM_SHARE, rng.geometric(1 / MEAN_EXTRA, len(raised)), 0)
    size = 1 + extra
    row = np.repeat(raised, size)
    position = np.arange(len(row)) - np.repeat(np.cumsum(size) - size, size)  # 0 = the leader
    gaps = rng.integers(0, MAX_GAP_SECONDS + 1, len(row))
    offset = _cumulative_within(np.where(position == 0, 0, gaps), size)
    detected, created = s.life.detected[row], s.life.created[row]
    alertname = lookup(ALERTNAMES, rng.integers(0, len(ALERTNAMES), len(raised)))
    serial = c.serials.take("incident_alerts", len(row))
    names = alertname.take(np.repeat(np.arange(len(raised)), size))
    systems = s.classification.source_system.take(row)
    return frame({
        "incident_id": s.arrivals.ids[row],
        "fingerprint": text(concat("seed", padded(serial, 12))),
        "episode_start": timestamps(detected + offset),
        "role": text(lookup(("leader", "member"), (position > 0).astype(np.int64))),
        "group_key": text(concat('["', systems, '","', names, '"]')),
        "alertname": text(names),
        "linked_at": timestamps(np.maximum(created, detected + offset)),
    })


def _cumulative_within(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Running sums of `values` restarting at every group of `sizes` consecutive rows."""
    total = np.cumsum(values)
    starts = np.cumsum(sizes) - sizes
    return total - np.repeat(total[starts] - values[starts], sizes)
