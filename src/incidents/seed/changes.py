"""change_events of the sample data: the deploys behind the deploy-caused incidents, and the many
deploys that caused nothing.

Known truth, recomputable from the seeded rows (benchmarks/correlate.py): an incident was caused by a
change exactly when its metadata says `deploy_related: true`. Each such incident gets one change to its
main service (the first of its affected_services) a few minutes before it was detected; for each of
them, DECOYS_PER_CAUSE more changes to random services at deploy-calendar times cause nothing (a
change failure rate of about 1 in 1 + DECOYS_PER_CAUSE). A decoy may still land just before an
unrelated incident of its service: that is the noise a correlation has to live with.

Drawn from a random stream of its own (never the chunk's), so adding it changed no other seeded row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from incidents.seed.columns import concat, frame, lookup, padded, text, timestamps
from incidents.seed.state import Chunk, ChunkState

DECOYS_PER_CAUSE = 3
MEAN_LAG_SECONDS = 480  # a bad deploy shows within minutes ...
MAX_LAG_SECONDS = 1500  # ... and within 25 minutes (the correlation window is 30)
_CAUSE_STATUS = ("success", "failure")
_CAUSE_FAILURE = 0.25  # of causing changes, the share whose own rollout failed
_DECOY_STATUS = ("success", "failure", "cancelled")
_DECOY_CUM = np.array([0.95, 0.98, 1.0])


def change_events(rng: np.random.Generator, c: Chunk, s: ChunkState) -> pd.DataFrame:
    """The chunk's changes: one per deploy-caused incident, DECOYS_PER_CAUSE decoys each."""
    categories = c.world.categories
    caused = np.flatnonzero(s.arrivals.deploy)
    has_service = np.array([len(categories.services[row]) > 0 for row in s.classification.crow[caused]], dtype=bool)
    caused = caused[has_service]
    n_cause, n_decoy = len(caused), len(caused) * DECOYS_PER_CAUSE
    lag = np.minimum(60 + rng.exponential(MEAN_LAG_SECONDS, n_cause), MAX_LAG_SECONDS).astype(np.int64)
    cause_at = s.life.detected[caused] - lag
    main = [categories.services[row][0] for row in s.classification.crow[caused]]
    pool = sorted({svc for svcs in categories.services for svc in svcs})
    decoy_at = c.calendar.sample(rng, n_decoy, deploy=True)
    decoy_service = rng.integers(0, len(pool), n_decoy)
    cause_status = (rng.random(n_cause) < _CAUSE_FAILURE).astype(np.int64)
    decoy_status = np.searchsorted(_DECOY_CUM, rng.random(n_decoy), side="right")
    keep = decoy_at < c.as_of  # nothing after the data's "now"
    serial = c.serials.take("change_events", n_cause + int(keep.sum()))
    changed_at = np.concatenate([cause_at, decoy_at[keep]])
    service = pa.concat_arrays([lookup(main, np.arange(n_cause)), lookup(pool, decoy_service[keep])])
    status = pa.concat_arrays([lookup(_CAUSE_STATUS, cause_status), lookup(_DECOY_STATUS, decoy_status[keep])])
    version = concat("r", padded(serial, 7))
    return frame({
        "change_key": text(concat("seed:", padded(serial, 8))),
        "source_format": text(lookup(("seed",), np.zeros(len(serial), dtype=np.int64))),
        "service": text(service),
        "environment": text(lookup(("production",), np.zeros(len(serial), dtype=np.int64))),
        "version": text(version),
        "status": text(status),
        "changed_at": timestamps(changed_at),
        "url": text(concat("https://ci.shop.example/deploys/", padded(serial, 8))),
        "summary": text(concat("Deploy ", version, " of ", service)),
        "received_at": timestamps(changed_at),
    })

