"""One builder per incident table: ChunkState in, DataFrame out (columns in the tables' order).

Builders that take `c.rng` draw from the chunk's stream, so they must run in the order of
`TABLES` (see the note on draw order in state.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from incidents.seed import catalog as cat
from incidents.seed.columns import (
    choose,
    choose1,
    concat,
    cumulative,
    frame,
    int_text,
    lognormal,
    lookup,
    nullable_bool,
    nullable_int,
    text,
    timestamps,
    when,
)
from incidents.seed.state import (
    ACKNOWLEDGED,
    ASSIGN_REASONS,
    CREATED,
    IDENTIFIED,
    MITIGATED,
    RESPONDED,
    STATUS_REASONS,
    Chunk,
    ChunkState,
    S,
)

_STATUS_UPDATES = {
    2: ("We are investigating reports of degraded service.", "Investigating: checking recent changes and metrics."),
    3: ("The cause has been identified and a fix is in progress.", "Identified the failing component."),
    4: ("Impact is mitigated; customers should see normal behaviour.", "Mitigation in place, monitoring."),
    5: ("The issue is resolved. Thank you for your patience.", "Resolved; verifying over the next hour."),
}
_NOTES = ("Checked dashboards: error rate elevated since the start.", "Pulled logs from the affected pods.",
          "Paged the database on-call for a second opinion.", "Customer support has a macro for affected users.",
          "Linked the related change request.", "Waiting on vendor response.",
          "Reproduced in staging.", "Added a temporary alert for this symptom.")
_SOLUTION_NOTES = ("Worked as documented.", "Worked after adapting one step.", "Did not help; symptoms persisted.",
                   "Partially helped; a different fix was needed.", "Applied; waiting to confirm the effect.")
_COMMENT_TYPES = ("internal_note", "customer_update", "status_update", "system")
_NOTE, _CUSTOMER_UPDATE, _STATUS_UPDATE, _SYSTEM = range(4)
_RESOLUTION_CUM = cumulative([cat.RESOLUTION_BY_CAUSE[name] for name in cat.ROOT_CAUSES])
_NO_ACTION, _DUPLICATE, _CANNOT_REPRODUCE = (cat.RESOLUTION_CODES.index(code) for code in
                                             ("no_action_needed", "duplicate", "cannot_reproduce"))
_REGION_CUM = cumulative([0.55, 0.2, 0.2, 0.05])
_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
_POSTMORTEM = next(i for i, k in enumerate(cat.ATTACHMENT_KINDS) if k.kind == "postmortem")


def _flatten(groups: list[tuple[str, ...]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Variable-length text pools as one list plus (first index, count) per group."""
    flat = [t for g in groups for t in g]
    count = np.array([len(g) for g in groups], dtype=np.int64)
    return flat, np.cumsum(count) - count, count


# ---------------------------------------------------------------------- incidents


@dataclass(frozen=True)
class _IncidentTexts:
    title: pa.Array
    description: pa.Array
    affected: pa.Array  # JSON array of services
    tags: pa.Array
    metadata: pa.Array


def _incident_texts(c: Chunk, s: ChunkState) -> _IncidentTexts:
    rng, n, categories = c.rng, c.n, c.world.categories
    cls, arrivals = s.classification, s.arrivals
    crow, deploy, peak = cls.crow, arrivals.deploy, arrivals.peak
    titles = [f"{name} affecting {svc}" for name, svcs in zip(categories.names, categories.services, strict=True)
              for svc in (svcs * 3)[:3]]  # three titles per category
    title = concat(when(deploy, "After release: ", ""), lookup(titles, crow * 3 + rng.integers(0, 3, n)))
    description = concat(title, ". ", lookup([top.description for top in cat.TOP_LEVEL], cls.top), " Raised via ",
                         cls.source_system, ".")
    # Pool: the main service only (first block) or all of them (second block).
    services = [f'["{svcs[0]}"]' for svcs in categories.services]
    services += ["[" + ",".join(f'"{svc}"' for svc in svcs) + "]" for svcs in categories.services]
    affected = lookup(services, crow + len(categories.services) * (rng.random(n) < 0.6))
    top_tags = [top.code.lower().replace("_", "-") for top in cat.TOP_LEVEL]
    tags = concat('["', lookup(top_tags, cls.top), '","', lookup(cat.PRIORITIES, cls.prio), '"',
                  when(deploy, ',"deploy"', ""), when(peak, ',"peak-season"', ""),
                  when(cls.impact <= 2, ',"customer-facing"', ""), "]")
    region = lookup(cat.REGIONS, choose1(rng, _REGION_CUM, n))
    orders = np.rint(s.impact.customers * 0.35).astype(np.int64)
    metadata = concat('{"deploy_related":', when(deploy, "true", "false"), ',"detected_by":"', cls.source_system,
                      '","orders_affected":', int_text(orders), ',"peak_season":', when(peak, "true", "false"),
                      ',"region":"', region, '"}')
    return _IncidentTexts(title=title, description=description, affected=affected, tags=tags, metadata=metadata)


def _resolution_columns(c: Chunk, s: ChunkState) -> dict[str, object]:
    """Root cause (resolved incidents) and resolution (every finished one) as text columns."""
    rng, n, status = c.rng, c.n, s.current.status
    resolved = s.current.is_resolved
    cancelled = status == S["cancelled"]
    finished = resolved | cancelled | (status == S["duplicate"])
    rc = s.classification.root_cause
    by_cause = choose(rng, _RESOLUTION_CUM, rc)
    cancel_code = np.where(rng.random(n) < 0.7, _NO_ACTION, _CANNOT_REPRODUCE)
    resolution = np.where(resolved, by_cause, np.where(cancelled, cancel_code, _DUPLICATE))
    rc_texts, rc_first, rc_count = _flatten([cat.ROOT_CAUSE_TEXT[name] for name in cat.ROOT_CAUSES])
    rs_texts, rs_first, rs_count = _flatten([cat.RESOLUTION_TEXT[name] for name in cat.RESOLUTION_CODES])
    pick = rng.integers(0, 1 << 30, n)  # which text of the pool
    return {
        "root_cause": text(lookup(rc_texts, rc_first[rc] + pick % rc_count[rc], resolved)),
        "root_cause_category": text(lookup(cat.ROOT_CAUSES, rc, resolved)),
        "resolution_summary": text(lookup(rs_texts, rs_first[resolution] + pick % rs_count[resolution], finished)),
        "resolution_code": text(lookup(cat.RESOLUTION_CODES, resolution, finished)),
    }


def incidents(c: Chunk, s: ChunkState) -> pd.DataFrame:
    texts = _incident_texts(c, s)
    resolution = _resolution_columns(c, s)
    cls, now, life, slots = s.classification, s.current, s.life, s.slots
    return frame({
        "incident_id": s.arrivals.ids,
        "incident_number": text(s.arrivals.numbers),
        "title": text(texts.title),
        "description": text(texts.description),
        "category_id": c.world.categories.ids[cls.crow],
        "status": text(lookup(cat.STATUSES, now.status)),
        "priority": text(lookup(cat.PRIORITIES, cls.prio)),
        "severity": text(lookup(cat.SEVERITIES, cls.severity)),
        "impact_level": text(lookup(cat.IMPACT_LEVELS, cls.impact)),
        "source": text(lookup(cat.SOURCES, cls.source)),
        "source_system": text(cls.source_system),
        "reporter_id": cls.reporter,
        "assignee_id": nullable_int(now.assignee, now.has_assignee),
        "assigned_team": text(lookup(c.world.teams.names, now.assigned_team, now.has_assignee)),
        "customers_affected": s.impact.customers,
        "revenue_impact": s.impact.revenue,
        "affected_services": text(texts.affected),
        "is_escalated": now.escalation > 0,
        "escalation_level": now.escalation,
        "reopen_count": now.reopens,
        "reassignment_count": now.reassignments,
        "parent_incident_id": nullable_int(life.exits.parent, life.exits.duplicate),
        "detected_at": timestamps(life.detected),
        "created_at": timestamps(life.created),
        "acknowledged_at": timestamps(slots.at(ACKNOWLEDGED)),
        "first_response_at": timestamps(slots.at(RESPONDED)),
        "mitigated_at": timestamps(slots.at(MITIGATED)),
        "resolved_at": timestamps(now.resolved_at),
        "closed_at": timestamps(now.closed_at),
        "updated_at": timestamps(now.updated),
        **resolution,
        "tags": text(texts.tags),
        "metadata": text(texts.metadata),
    })


# ---------------------------------------------------------------------- histories


def status_history(c: Chunk, s: ChunkState) -> pd.DataFrame:
    slots = s.slots
    row, slot = np.nonzero(slots.present)  # row-major: grouped by incident, in time order
    new = slots.code[row, slot]
    first = np.ones(len(row), dtype=bool)
    first[1:] = row[1:] != row[:-1]
    previous = np.roll(new, 1)
    return frame({
        "status_history_id": c.serials.take("status", len(row)),
        "incident_id": s.arrivals.ids[row],
        "previous_status": text(lookup(cat.STATUSES, previous, ~first)),
        "new_status": text(lookup(cat.STATUSES, new)),
        "changed_by": s.status_by[row, slot],
        "change_reason": text(lookup(STATUS_REASONS, slots.reason[row, slot])),
        "changed_at": timestamps(slots.times[row, slot]),
    })


def assignment_history(c: Chunk, s: ChunkState) -> pd.DataFrame:
    asg, names = s.assignments, c.world.teams.names
    row, slot = np.nonzero(asg.present)
    prev = asg.previous[row, slot]
    prev_team = asg.previous_team[row, slot]
    return frame({
        "assignment_id": c.serials.take("assignment", len(row)),
        "incident_id": s.arrivals.ids[row],
        "previous_assignee_id": nullable_int(prev, prev >= 0),
        "new_assignee_id": nullable_int(asg.assignee[row, slot], np.ones(len(row), dtype=bool)),
        "previous_team": text(lookup(names, np.maximum(prev_team, 0), prev_team >= 0)),
        "new_team": text(lookup(names, asg.team[row, slot])),
        "assigned_by": asg.by[row, slot],
        "assignment_reason": text(lookup(ASSIGN_REASONS, asg.reason[row, slot])),
        "assigned_at": timestamps(asg.time[row, slot]),
    })


# ---------------------------------------------------------------------- comments


@dataclass(frozen=True)
class _Comments:
    """Comments of one kind before merging: incident row, time, author, type and visibility."""

    row: np.ndarray
    created: np.ndarray
    author: np.ndarray
    kind: np.ndarray  # index into _COMMENT_TYPES
    public: np.ndarray


def _alerts(s: ChunkState) -> _Comments:
    """The alert that opened each machine-raised incident."""
    row = np.nonzero(s.classification.machine)[0]
    return _Comments(row=row, created=s.slots.times[row, CREATED], author=s.classification.reporter[row],
                     kind=np.full(len(row), _SYSTEM), public=np.zeros(len(row), bool))


def _status_updates(c: Chunk, s: ChunkState) -> tuple[_Comments, np.ndarray]:
    """Updates on investigating..resolved, more often for urgent incidents; mitigated/resolved ones of
    customer-facing incidents go to customers. Also returns each update's status."""
    slots, cls = s.slots, s.classification
    row, slot = np.nonzero(slots.present & np.isin(slots.code, [2, 3, 4, 5]))
    keep = c.rng.random(len(row)) < np.array([0.9, 0.75, 0.5, 0.3])[cls.prio[row]]
    row, slot = row[keep], slot[keep]
    status = slots.code[row, slot]
    public = np.isin(status, [4, 5]) & (cls.impact[row] <= 2)
    created = np.minimum(slots.times[row, slot] + c.rng.integers(0, 600, len(row)), c.as_of)
    comments = _Comments(row=row, created=created, author=s.status_by[row, slot],
                         kind=np.where(public, _CUSTOMER_UPDATE, _STATUS_UPDATE), public=public)
    return comments, status


def _notes(c: Chunk, s: ChunkState) -> _Comments:
    """Internal notes between acknowledgement and the last change, by the assignee."""
    slots = s.slots
    count = np.where(slots.present[:, ACKNOWLEDGED],
                     np.minimum(c.rng.poisson(np.array([3.0, 2.0, 1.2, 0.6])[s.classification.prio]), 8), 0)
    row = np.repeat(np.arange(c.n), count)
    start = slots.times[row, ACKNOWLEDGED]
    spread = np.rint(c.rng.random(len(row)) * np.maximum(s.current.updated[row] - start, 0)).astype(np.int64)
    return _Comments(row=row, created=start + spread, author=s.current.assignee[row],
                     kind=np.zeros(len(row), np.int64), public=np.zeros(len(row), bool))


def comments(c: Chunk, s: ChunkState) -> pd.DataFrame:
    alerts, (updates, update_status), notes = _alerts(s), _status_updates(c, s), _notes(c, s)
    upd_texts, upd_first, upd_count = _flatten([_STATUS_UPDATES[k] for k in (2, 3, 4, 5)])
    k_update = c.rng.integers(0, 2, len(updates.row))
    body = pa.concat_arrays([
        concat("Alert fired by ", s.classification.source_system.take(pa.array(alerts.row)), ": ",
               lookup(c.world.categories.names, s.classification.crow[alerts.row]), "."),
        lookup(upd_texts, upd_first[update_status - 2] + k_update % upd_count[update_status - 2]),
        lookup(_NOTES, c.rng.integers(0, len(_NOTES), len(notes.row))),
    ])
    parts = (alerts, updates, notes)
    incident_row = np.concatenate([p.row for p in parts])
    created = np.concatenate([p.created for p in parts])
    order = np.lexsort((created, incident_row))
    kind = np.concatenate([p.kind for p in parts])[order]
    created = created[order]
    m = len(order)
    edited = created + c.rng.integers(60, 7200, m)
    was_edited = (c.rng.random(m) < 0.04) & (kind != _SYSTEM) & (edited <= c.as_of)
    return frame({
        "comment_id": c.serials.take("comment", m),
        "incident_id": s.arrivals.ids[incident_row[order]],
        "author_id": np.concatenate([p.author for p in parts])[order],
        "comment_type": text(lookup(_COMMENT_TYPES, kind)),
        "body": text(body.take(pa.array(order))),
        "is_public": np.concatenate([p.public for p in parts])[order],
        "is_system_generated": kind == _SYSTEM,
        "created_at": timestamps(created),
        "edited_at": timestamps(edited, was_edited),
    })


# ---------------------------------------------------------------------- attachments


def _attachment_slots(c: Chunk, s: ChunkState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(incident row, 1-based number within the incident, is the post-mortem) per attachment."""
    prio = s.classification.prio
    uploads = (c.rng.random(c.n) < np.array([0.6, 0.4, 0.25, 0.15])[prio]) & ~s.life.exits.duplicate
    count = np.where(uploads, 1 + c.rng.binomial(2, 0.3, c.n), 0)
    postmortem = (s.current.status == S["closed"]) & (prio <= 1)  # closed urgent incidents get a review
    total = count + postmortem
    row = np.repeat(np.arange(c.n), total)
    first = np.repeat(np.cumsum(total) - total, total)
    seq = np.arange(len(row)) - first + 1
    return row, seq, postmortem[row] & (seq == total[row])  # the post-mortem comes last


def attachments(c: Chunk, s: ChunkState) -> pd.DataFrame:
    rng, life, now = c.rng, s.life, s.current
    row, seq, is_pm = _attachment_slots(c, s)
    m = len(row)
    kind = np.where(is_pm, _POSTMORTEM, rng.integers(0, 4, m))
    created = life.created[row]
    # Post-mortems between resolving and closing; the rest while the incident is worked.
    lo = np.where(is_pm, life.final_resolve[row], created)
    hi = np.where(is_pm, life.close[row], np.maximum(now.updated[row], created))
    uploaded = lo + np.rint(rng.random(m) * (hi - lo)).astype(np.int64)
    kinds = cat.ATTACHMENT_KINDS
    size = np.maximum(1024, np.rint(lognormal(rng, np.array([k.median_bytes for k in kinds])[kind], 1.0, m)))
    number = s.arrivals.numbers.take(pa.array(row))
    file_name = concat(number, "-", lookup([k.kind for k in kinds], kind), "-", int_text(seq), ".",
                       lookup([k.extension for k in kinds], kind))
    year = pc.utf8_slice_codeunits(number, 4, 8)
    digest = _HEX[rng.integers(0, 256, (m, 32), dtype=np.uint8)].view("S64").ravel()
    return frame({
        "attachment_id": c.serials.take("attachment", m),
        "incident_id": s.arrivals.ids[row],
        "uploaded_by": np.where(now.has_assignee[row], now.assignee[row], s.classification.reporter[row]),
        "file_name": text(file_name),
        "content_type": text(lookup([k.content_type for k in kinds], kind)),
        "file_size_bytes": size.astype(np.int64),
        "storage_url": text(concat("s3://shop-incident-attachments/", year, "/", number, "/", file_name)),
        "checksum_sha256": text(pa.array(digest).cast(pa.string())),
        "description": text(lookup([k.description for k in kinds], kind)),
        "uploaded_at": timestamps(uploaded),
    })


# ---------------------------------------------------------------------- solutions


@dataclass(frozen=True)
class _Applications:
    """Runbooks applied, one row each (unsorted)."""

    row: np.ndarray  # incident row
    template: np.ndarray  # template index
    applied_at: np.ndarray
    first_of_two: np.ndarray  # the first of two tries: less likely to work
    known: np.ndarray  # outcome known (False while the incident is still being identified)


def _applications(c: Chunk, s: ChunkState) -> _Applications:
    """Half of the mitigated incidents applied a runbook, a quarter of those two; a few identified ones
    are applying one right now."""
    rng, n, templates = c.rng, c.n, c.world.templates
    slots, top = s.slots, s.classification.top
    applied = slots.present[:, MITIGATED] & ~s.life.exits.voided & (rng.random(n) < 0.5)
    two = applied & (rng.random(n) < 0.25)
    pending = (s.current.status == S["identified"]) & (rng.random(n) < 0.3)
    count = templates.count[top]
    k1 = rng.integers(0, 1 << 30, n) % count
    k2 = (k1 + 1 + rng.integers(0, 1 << 30, n) % np.maximum(count - 1, 1)) % count  # a different one
    respond, mitigate, identify = slots.times[:, RESPONDED], slots.times[:, MITIGATED], slots.times[:, IDENTIFIED]
    early, alone = rng.uniform(0.1, 0.5, n), rng.uniform(0.2, 0.95, n)
    f1 = np.where(two, early, alone)
    at1 = np.where(pending, identify + np.rint(rng.random(n) * (c.as_of - identify)),
                   respond + np.rint(f1 * (mitigate - respond))).astype(np.int64)
    at2 = (respond + np.rint(rng.uniform(0.5, 0.95, n) * (mitigate - respond))).astype(np.int64)
    first_rows, second_rows = np.nonzero(applied | pending)[0], np.nonzero(two)[0]
    row = np.concatenate([first_rows, second_rows])
    first, second = templates.candidates[top, k1], templates.candidates[top, k2]
    return _Applications(
        row=row,
        template=np.concatenate([first[first_rows], second[second_rows]]),
        applied_at=np.concatenate([at1[first_rows], at2[second_rows]]),
        first_of_two=np.concatenate([two[first_rows], np.zeros(len(second_rows), bool)]),
        known=~pending[row])


def solutions(c: Chunk, s: ChunkState) -> pd.DataFrame:
    rng, w = c.rng, c.world
    a = _applications(c, s)
    m = len(a.row)
    eff = w.templates.effectiveness[a.template]
    # Good runbooks work more often, fast teams apply them better, a first try of two usually failed.
    p_success = np.clip(eff * np.where(a.first_of_two, 0.5, 1.0) / np.sqrt(w.teams.speed[s.owner.team[a.row]]), 0, 0.98)
    success = rng.random(m) < p_success
    good, bad = 3 + rng.binomial(2, eff), 1 + rng.binomial(2, 0.35, m)
    rating = np.where(success, good, bad)
    minutes = np.maximum(1, np.rint(lognormal(rng, w.templates.minutes[a.template], 0.5, m)))
    worked, failed = rng.integers(0, 2, m), 2 + rng.integers(0, 2, m)
    note = np.where(~a.known, 4, np.where(success, worked, failed))
    order = np.lexsort((a.applied_at, s.arrivals.ids[a.row]))
    row = a.row[order]
    known = a.known[order]
    return frame({
        "incident_solution_id": c.serials.take("solution", m),
        "incident_id": s.arrivals.ids[row],
        "solution_id": w.templates.ids[a.template[order]],
        "applied_by": s.owner.engineer[row],
        "applied_at": timestamps(a.applied_at[order]),
        "was_successful": nullable_bool(success[order], known),
        "effectiveness_rating": nullable_int(rating[order], known),
        "time_to_apply_minutes": minutes[order].astype(np.int64),
        "notes": text(lookup(_SOLUTION_NOTES, note[order])),
    })


Builder = Callable[[Chunk, ChunkState], pd.DataFrame]
# Load order, and the order the builders draw in.
TABLES: tuple[tuple[str, Builder], ...] = (
    ("incidents", incidents),
    ("incident_status_history", status_history),
    ("incident_assignment_history", assignment_history),
    ("incident_comments", comments),
    ("incident_attachments", attachments),
    ("incident_solutions", solutions),
)
