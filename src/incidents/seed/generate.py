"""Vectorised, chunked generator of a coherent incident history.

Every incident gets a fixed set of lifecycle "slots" (status changes and assignments) with times in
increasing order; everything later than `as_of` has simply not happened yet. Current status,
assignee, reassignment count, escalation level and the timestamps on the incident are all derived
from the same slots that become the history rows, so the histories replay exactly to the incident.

Replay rules the analytics views can rely on:
- status: the last incident_status_history row (by changed_at) is incidents.status;
  reopen_count = rows going from resolved/closed to an open status.
- assignee: the last incident_assignment_history row gives assignee_id and assigned_team;
  reassignment_count = rows whose previous_assignee_id is set and differs from new_assignee_id.
- escalation: escalation_level = rows whose assignment_reason starts with 'Escalated to level'
  (they keep the assignee); is_escalated = escalation_level > 0.

Determinism: one numpy Generator per purpose and per fixed-size chunk, all derived from the
random seed, so the output depends only on the options, never on the machine or the backend.

Layout: world.py builds the small tables once; state.py draws each chunk's state (one frozen
dataclass per concern); tables.py turns that state into one DataFrame per table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from incidents.seed import state as st
from incidents.seed.alert_links import incident_alerts
from incidents.seed.calendar import DAY, Calendar
from incidents.seed.changes import change_events
from incidents.seed.tables import TABLES
from incidents.seed.world import World, build_world

CHUNK = 100_000  # incidents per chunk: fixed, so chunking never changes the data


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date
    now: int | None = None  # the moment the seed runs (epoch seconds): nothing happens after it

    @property
    def start_ts(self) -> int:
        return _epoch(self.start)

    @property
    def as_of(self) -> int:
        """'Now' for the data: the midnight after `end` (UTC), or the moment the seed runs when that is
        earlier (an `end` of today). Nothing happens later than this."""
        midnight = _epoch(self.end) + DAY
        return midnight if self.now is None else min(midnight, self.now)


def _epoch(day: dt.date) -> int:
    return int((dt.datetime(day.year, day.month, day.day) - dt.datetime(1970, 1, 1)).total_seconds())


Batch = list[tuple[str, pd.DataFrame]]


class Generator:
    """Generates the tables for `incidents` incidents; iterate `batches()` in load order."""

    def __init__(self, incidents: int, random_seed: int, window: Window) -> None:
        self.n, self.seed, self.window = incidents, random_seed, window
        self.as_of = window.as_of
        self.calendar = Calendar(window.start_ts, self.as_of)
        self.world: World = build_world(incidents, self._rng(0), window.start_ts)
        self.arrivals = st.plan_arrivals(self._rng(1), self.calendar, incidents)
        self.serials = st.Serials()  # child-table ids continue across chunks

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])

    def dimension_batch(self) -> Batch:
        w = self.world
        return [("users", w.users), ("solution_templates", w.templates.frame)]

    def chunk_ends(self) -> list[int]:
        """Incidents generated once each chunk of `batches()` is out: 100000, 200000, ..., n."""
        return [min(self.n, lo + CHUNK) for lo in range(0, self.n, CHUNK)]

    def batches(self) -> Iterator[Batch]:
        for chunk, lo in enumerate(range(0, self.n, CHUNK)):
            yield self._chunk(chunk, lo, min(self.n, lo + CHUNK))

    def _chunk(self, chunk: int, lo: int, hi: int) -> Batch:
        c = st.Chunk(rng=self._rng(2, chunk), n=hi - lo, world=self.world, calendar=self.calendar,
                     as_of=self.as_of, serials=self.serials)
        state = _draw_state(c, self.arrivals.chunk(lo, hi, self.calendar))
        frames = [(name, build(c, state)) for name, build in TABLES]  # in order: the builders draw too
        (_, incidents), children = frames[0], frames[1:]
        # Duplicates reference their parent (self-FK): load the originals first.
        original = ~state.life.exits.duplicate
        changes = change_events(self._rng(3, chunk), c, state)  # a stream of its own: no other row moves
        alerts = incident_alerts(self._rng(4, chunk), c, state)  # so is this one
        return [("incidents", incidents[original].reset_index(drop=True)),
                ("incidents", incidents[~original].reset_index(drop=True)), *children, ("change_events", changes),
                ("incident_alerts", alerts)]


def _draw_state(c: st.Chunk, arrivals: st.Arrivals) -> st.ChunkState:
    """The chunk's state, drawn in a fixed order (every step draws from c.rng)."""
    classification = st.classify(c, arrivals)
    owner = st.assign_owner(c, classification)
    life = st.lifecycle(c, arrivals, classification, owner)
    slots = st.status_slots(c, life)
    impact = st.business_impact(c, classification, life, slots)
    assignments = st.assignments(c, classification, owner, life, impact)
    status_by = st.status_authors(c, classification, life, slots, assignments)
    return st.ChunkState(arrivals=arrivals, classification=classification, owner=owner, life=life, slots=slots,
                         impact=impact, assignments=assignments, status_by=status_by,
                         current=st.current_state(life, slots, assignments))
