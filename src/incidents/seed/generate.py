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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from incidents.seed import catalog as cat
from incidents.seed.calendar import DAY, HOUR, Calendar
from incidents.seed.columns import (
    NEVER,
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
    padded,
    text,
    timestamps,
    when,
)
from incidents.seed.world import World, build_world

CHUNK = 100_000  # incidents per chunk: fixed, so chunking never changes the data
DEPLOY_SHARE = 0.14
OPEN_STATUSES = ("new", "acknowledged", "investigating", "identified", "mitigated")

# Status slots: created, acknowledged, investigating (first response), identified, mitigated, resolved,
# reopen 1 + resolve, reopen 2 + resolve, terminal (closed | cancelled | duplicate).
_SLOT_STATUS = np.array([0, 1, 2, 3, 4, 5, 2, 5, 2, 5, 6])
_S = {name: i for i, name in enumerate(cat.STATUSES)}
_STATUS_REASONS = (
    "Incident created", "Acknowledged by on-call", "Investigation started", "Root cause identified",
    "Customer impact mitigated", "Fix deployed and verified", "Reopened: the problem recurred",
    "Fix verified after reopen", "Post-incident review complete", "Auto-closed: no activity after resolution",
    "Duplicate of an existing incident", *cat.CANCEL_REASONS,
)
_SLOT_REASON = np.array([0, 1, 2, 3, 4, 5, 6, 7, 6, 7, 8])
_ASSIGN_REASONS = (
    "Paged by the on-call rotation", "Picked up from the support queue", "Assigned by support triage",
    "Routed to the owning team", "Handed over to a specialist", "Escalated to level 1 (team lead)",
    "Escalated to level 2 (management)", "Escalated to level 3 (executive)",
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


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date

    @property
    def start_ts(self) -> int:
        return _epoch(self.start)

    @property
    def as_of(self) -> int:
        """'Now' for the data: the midnight after `end` (UTC). Nothing happens later than this."""
        return _epoch(self.end) + DAY


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
        self._plan_arrivals()
        self._next = {"status": 1, "assignment": 1, "comment": 1, "attachment": 1, "solution": 1}

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])

    def _plan_arrivals(self) -> None:
        """Creation times of all incidents, sorted, so ids and numbers follow time (8 bytes an incident)."""
        rng = self._rng(1)
        n_deploy = int(rng.binomial(self.n, DEPLOY_SHARE))
        times = np.concatenate([self.calendar.sample(rng, self.n - n_deploy, deploy=False),
                                self.calendar.sample(rng, n_deploy, deploy=True)])
        deploy = np.arange(self.n) >= self.n - n_deploy
        order = np.argsort(times, kind="stable")
        self.created, self.deploy = times[order], deploy[order]
        years = self.created.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
        first_of_year = np.searchsorted(years, years, side="left")
        self.year, self.year_seq = years, np.arange(self.n) - first_of_year + 1

    def dimension_batch(self) -> Batch:
        w = self.world
        return [("users", w.users), *(("incident_categories", f) for f in w.categories),
                ("solution_templates", w.templates)]

    def batches(self) -> Iterator[Batch]:
        for chunk, lo in enumerate(range(0, self.n, CHUNK)):
            yield self._chunk(chunk, lo, min(self.n, lo + CHUNK))

    def _take(self, counter: str, count: int) -> np.ndarray:
        first = self._next[counter]
        self._next[counter] = first + count
        return np.arange(first, first + count, dtype=np.int64)

    # ------------------------------------------------------------------ one chunk of incidents

    def _chunk(self, chunk: int, lo: int, hi: int) -> Batch:
        rng = self._rng(2, chunk)
        w, cal, as_of = self.world, self.calendar, self.as_of
        n = hi - lo
        ids = np.arange(lo + 1, hi + 1, dtype=np.int64)
        created, deploy = self.created[lo:hi], self.deploy[lo:hi]
        peak = cal.is_peak(created)

        # classification
        regime = np.where(deploy, 2, np.where(peak, 1, 0))
        leaf = w.leaf_rows[choose(rng, w.leaf_cum, regime)]
        crow = np.where(rng.random(n) < 0.02, w.category_top[leaf], leaf)  # a few filed at top level only
        top = w.category_top[crow]
        prio = choose(rng, w.priority_cum, crow)
        severity = choose(rng, cumulative(cat.SEVERITY_BY_PRIORITY), prio)
        impact = choose(rng, cumulative(cat.IMPACT_BY_PRIORITY), prio)
        source = np.where(deploy, choose1(rng, cumulative([0.70, 0.05, 0.15, 0.0, 0.10]), n),
                          choose(rng, cumulative([t[3] for t in cat.TOP_LEVEL]), top))
        system_no = rng.integers(0, 4, n)
        source_system_names = [s for src in cat.SOURCES for s in cat.SOURCE_SYSTEMS[src]]
        reporter = self._reporters(rng, source, system_no)
        # Deployment causes come only from the deploy stream, so they follow the release calendar.
        causes = np.array([t[4] for t in cat.TOP_LEVEL])
        causes[:, 0] = 0.0
        root_cause = np.where(deploy, np.where(rng.random(n) < 0.85, 0, 1), choose(rng, cumulative(causes), top))

        # people and speed
        team = w.category_team[crow]
        member = choose(rng, w.team_cum, team)
        engineer = w.team_members[team, member]
        speed = w.team_speed[team] * w.user_speed[engineer]

        def step(name: str, factor: np.ndarray | float = 1.0) -> np.ndarray:
            median = np.array(cat.STEP_MEDIANS[name])[prio] * 60.0
            return np.maximum(1, np.rint(lognormal(rng, median, cat.STEP_SIGMA[name], n) * speed * factor)
                              ).astype(np.int64)

        # lifecycle times
        machine = (source == 0) | (source == 4)
        detected = created - np.rint(lognormal(rng, np.where(machine, 120.0, 2700.0), 0.8, n)).astype(np.int64)
        night = cal.is_night(created) & (prio >= 2)
        queued = np.where(rng.random(n) < np.array([0.0, 0.002, 0.015, 0.05])[prio],
                          np.array([1.0, 30.0, 60.0, 300.0])[prio], 1.0)  # forgotten in a queue
        ack = created + step("ack", np.where(night, 2.0, 1.0) * np.where(peak, 1.3, 1.0) * queued)
        respond = ack + step("respond")
        # A backlog: some lower-priority incidents stall (waiting on a vendor, a release, a decision),
        # so aged open incidents exist at every stage, not only the last few days' arrivals.
        stall = rng.random(n)
        stall_identify = np.where(stall < np.array([0.002, 0.01, 0.012, 0.025])[prio], 15.0, 1.0)
        stall_resolve = np.where(stall > 1 - np.array([0.008, 0.03, 0.02, 0.04])[prio], 25.0, 1.0)
        identify = respond + step("identify", stall_identify)
        mitigate = identify + step("mitigate")
        resolve1 = mitigate + step("resolve", stall_resolve)
        reopen_p = np.array([0.02, 0.03, 0.05, 0.06])[prio] * np.where(root_cause == 5, 1.8, 1.0)
        reopen1 = rng.random(n) < reopen_p
        reopen2 = reopen1 & (rng.random(n) < 0.15)
        reopened1 = resolve1 + np.rint(lognormal(rng, 8 * HOUR, 1.0, n)).astype(np.int64) + 1
        resolve2 = reopened1 + step("resolve", 0.6)
        reopened2 = resolve2 + np.rint(lognormal(rng, 8 * HOUR, 1.0, n)).astype(np.int64) + 1
        resolve3 = reopened2 + step("resolve", 0.6)
        final_resolve = np.where(reopen2, resolve3, np.where(reopen1, resolve2, resolve1))
        close = final_resolve + step("close")
        auto_closed = close - final_resolve > 5 * DAY

        cancelled = rng.random(n) < np.where(machine, 0.06, 0.025)
        duplicate, parent = self._duplicates(rng, ids, created, crow, cancelled)
        cancelled &= ~duplicate
        cancel_at = ack + np.maximum(60, np.rint(lognormal(rng, 1800.0 * (1 + prio), 0.9, n))).astype(np.int64)
        duplicate_at = created + np.maximum(60, np.rint(lognormal(rng, 1500.0, 0.8, n))).astype(np.int64)

        # status slots
        times = np.stack([created, ack, respond, identify, mitigate, resolve1,
                          np.where(reopen1, reopened1, NEVER), np.where(reopen1, resolve2, NEVER),
                          np.where(reopen2, reopened2, NEVER), np.where(reopen2, resolve3, NEVER), close], axis=1)
        status_code = np.tile(_SLOT_STATUS, (n, 1))
        reason = np.tile(_SLOT_REASON, (n, 1))
        reason[auto_closed, 10] = 9
        times[cancelled, 3:10] = NEVER
        times[cancelled, 2] = np.where(respond < cancel_at, respond, NEVER)[cancelled]
        times[cancelled, 10] = cancel_at[cancelled]
        status_code[cancelled, 10] = _S["cancelled"]
        reason[cancelled, 10] = 11 + rng.integers(0, len(cat.CANCEL_REASONS), n)[cancelled]
        times[duplicate, 1:10] = NEVER
        times[duplicate, 10] = duplicate_at[duplicate]
        status_code[duplicate, 10] = _S["duplicate"]
        reason[duplicate, 10] = 10
        present = times <= as_of
        last = times.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
        rows = np.arange(n)
        status = status_code[rows, last]

        def at(slot: int) -> np.ndarray:
            return np.where(present[:, slot], times[:, slot], NEVER)

        is_resolved = (status == _S["resolved"]) | (status == _S["closed"])
        resolved_at = np.where(is_resolved, final_resolve, NEVER)
        closed_at = at(10)

        # business impact: revenue flow blocked from detection until mitigation (or now)
        impact_end = np.where(present[:, 4], mitigate, np.where(status >= _S["cancelled"], detected,
                                                                 np.minimum(closed_at, as_of)))
        minutes = np.clip((impact_end - detected) / 60.0, 0, 3 * 1440)
        fraction = np.array(cat.IMPACT_FRACTION)[impact]
        flow = cal.traffic_at(created) * fraction * minutes
        revenue = 3800.0 * w.revenue_share[crow] * flow * lognormal(rng, 1.0, 0.5, n)
        voided = cancelled | duplicate
        revenue = np.where(voided, 0.0, np.minimum(np.round(revenue, 2), 9e8))
        customers = np.rint(180.0 * np.maximum(w.revenue_share[crow], 0.03) * flow * lognormal(rng, 1.0, 0.6, n))
        customers = np.where(voided, 0, customers).astype(np.int64)

        # assignments and escalations
        asg = self._assignments(rng, n, source, prio, team, member, engineer, ack, mitigate, cancelled, cancel_at,
                                duplicate, revenue)
        a_time, a_filled, a_team = asg["time"], asg["assignee"], asg["team"]
        a_present = a_time <= as_of
        a_last = np.maximum(a_present.sum(axis=1) - 1, 0)
        has_assignee = a_present[:, 0]
        assignee = np.where(has_assignee, a_filled[rows, a_last], 0)
        assigned_team = np.where(has_assignee, a_team[rows, a_last], 0)
        reassignments = (a_present & (asg["kind"] == 1)).sum(axis=1) - has_assignee
        escalation = (a_present & (asg["kind"] == 2)).sum(axis=1)

        # who changed each status: whoever held the incident then
        held = (a_time[:, None, :] <= times[:, :, None]).sum(axis=2)
        changed_by = np.take_along_axis(a_filled, np.maximum(held - 1, 0), axis=1)
        triage_agent = w.team_members[-1, choose(rng, w.team_cum, np.full(n, len(w.team_names) - 1))]
        changed_by = np.where(held > 0, changed_by, triage_agent[:, None])
        changed_by[:, 0] = reporter
        changed_by[auto_closed & (status_code[:, 10] == _S["closed"]), 10] = w.system["incident-bot"]

        updated = np.maximum(np.where(present, times, 0).max(axis=1), np.where(a_present, a_time, 0).max(axis=1))
        reopens = (present[:, 6].astype(np.int64) + present[:, 8])

        numbers = concat("INC-", int_text(self.year[lo:hi]), "-", padded(self.year_seq[lo:hi], 6))
        incident = self._incident_frame(
            rng, ids=ids, numbers=numbers, crow=crow, top=top, prio=prio, severity=severity, impact=impact,
            source=source, source_system=lookup(source_system_names, source * 4 + system_no), reporter=reporter,
            assignee=assignee, has_assignee=has_assignee, assigned_team=assigned_team, customers=customers,
            revenue=revenue, escalation=escalation, reopens=reopens, reassignments=reassignments, parent=parent,
            duplicate=duplicate, detected=detected, created=created, ack=at(1), respond=at(2), mitigate=at(4),
            resolved=resolved_at, closed=closed_at, updated=updated, status=status, root_cause=root_cause,
            cancelled=cancelled, deploy=deploy, peak=peak)

        status_rows = self._status_history(n, ids, times, present, status_code, changed_by, reason)
        assignment_rows = self._assignment_history(ids, asg, a_present)
        comments = self._comments(rng, ids, incident, times, present, status_code, changed_by, prio, impact,
                                  source, reporter, assignee, updated, source_system_names, system_no, crow)
        attachments = self._attachments(rng, ids, numbers, prio, status, created, updated, final_resolve, close,
                                         assignee, has_assignee, reporter, duplicate)
        solutions = self._solutions(rng, ids, top, status, present, times, engineer, team, cancelled, duplicate)
        level0 = ~duplicate
        return [("incidents", incident[level0].reset_index(drop=True)),
                ("incidents", incident[~level0].reset_index(drop=True)),
                ("incident_status_history", status_rows), ("incident_assignment_history", assignment_rows),
                ("incident_comments", comments), ("incident_attachments", attachments),
                ("incident_solutions", solutions)]

    # ------------------------------------------------------------------ pieces

    def _reporters(self, rng: np.random.Generator, source: np.ndarray, system_no: np.ndarray) -> np.ndarray:
        w = self.world
        table = np.zeros((len(cat.SOURCES), 4), dtype=np.int64)
        for s, src in enumerate(cat.SOURCES):
            for k, name in enumerate(cat.SOURCE_SYSTEMS[src]):
                table[s, k] = w.system.get(name, w.system["partner-gateway"])
        n = len(source)
        customer = w.customers[choose1(rng, w.customer_cum, n)]
        staff = w.staff[rng.integers(0, len(w.staff), n)]
        return np.where(source == 1, customer, np.where(source == 2, staff, table[source, system_no]))

    def _duplicates(self, rng: np.random.Generator, ids: np.ndarray, created: np.ndarray, crow: np.ndarray,
                    cancelled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A few incidents duplicate the previous original in their category within 12 hours."""
        n = len(ids)
        candidate = (rng.random(n) < 0.025) & ~cancelled
        order = np.lexsort((created, crow))
        cand = candidate[order]
        positions = np.arange(n)
        previous = np.maximum.accumulate(np.where(~cand, positions, -1))
        ok = cand & (previous >= 0)
        prev = np.where(ok, previous, 0)
        ok &= (crow[order][prev] == crow[order]) & (created[order] - created[order][prev] <= 12 * HOUR)
        duplicate = np.zeros(n, dtype=bool)
        duplicate[order[ok]] = True
        parent = np.zeros(n, dtype=np.int64)
        parent[order[ok]] = ids[order[prev[ok]]]
        return duplicate, parent

    def _assignments(self, rng: np.random.Generator, n: int, source: np.ndarray, prio: np.ndarray, team: np.ndarray,
                     member: np.ndarray, engineer: np.ndarray, ack: np.ndarray, mitigate: np.ndarray,
                     cancelled: np.ndarray, cancel_at: np.ndarray, duplicate: np.ndarray,
                     revenue: np.ndarray) -> dict[str, np.ndarray]:
        """Six slots per incident: up to three assignments (triage -> handoff -> owner), up to three escalations."""
        w = self.world
        support = len(w.team_names) - 1
        triage = (source == 1) & (rng.random(n) < 0.85)
        handoff = rng.random(n) < np.where(w.team_speed[team] > 1.1, 0.28, 0.14)
        agent = w.team_members[support, choose(rng, w.team_cum, np.full(n, support))]
        size = w.team_size[team]
        helper = w.team_members[team, (member + 1 + rng.integers(0, 1 << 30, n) % (size - 1)) % size]
        first = np.where(triage, agent, np.where(handoff, helper, engineer))
        second = np.where(triage & handoff, helper, np.where(triage | handoff, engineer, -1))
        third = np.where(triage & handoff, engineer, -1)
        team2 = team
        first_team = np.where(triage, support, team)

        end = np.where(cancelled, cancel_at, mitigate)
        span = np.maximum(end - ack, 8)
        f = np.sort(rng.uniform(0.05, 0.7, (n, 2)), axis=1)
        t1 = ack + np.maximum(1, np.rint(f[:, 0] * span)).astype(np.int64)
        t2 = np.maximum(t1 + 1, ack + np.rint(f[:, 1] * span).astype(np.int64))
        p1 = np.array([0.45, 0.20, 0.06, 0.015])[prio] + np.where(revenue > 50_000, 0.25, 0.0)
        level = ((rng.random(n) < p1).astype(np.int64)
                 * (1 + (rng.random(n) < np.array([0.45, 0.30, 0.15, 0.10])[prio])
                    * (1 + (rng.random(n) < np.array([0.35, 0.20, 0.05, 0.02])[prio]))))
        level = np.where(duplicate, 0, level)
        g = np.sort(rng.uniform(0.02, 0.95, (n, 3)), axis=1)
        e = ack[:, None] + np.maximum(1, np.rint(g * span[:, None])).astype(np.int64)
        e[:, 1] = np.maximum(e[:, 1], e[:, 0] + 1)
        e[:, 2] = np.maximum(e[:, 2], e[:, 1] + 1)

        time = np.stack([ack, np.where(second >= 0, t1, NEVER), np.where(third >= 0, t2, NEVER),
                         np.where(level >= 1, e[:, 0], NEVER), np.where(level >= 2, e[:, 1], NEVER),
                         np.where(level >= 3, e[:, 2], NEVER)], axis=1)
        time[duplicate] = NEVER
        kind = np.tile(np.array([1, 1, 1, 2, 2, 2]), (n, 1))
        assignee = np.stack([first, second, third, *([np.full(n, -1)] * 3)], axis=1)
        teams = np.stack([first_team, np.where(triage & handoff, team2, team), team, *([np.full(n, -1)] * 3)],
                         axis=1)
        machine = (source == 0) | (source == 4)
        dispatcher = np.where(machine, w.system["pagerduty"], agent)
        reason = np.stack([np.where(machine, 0, np.where(triage, 1, 2)), np.where(triage, 3, 4), np.full(n, 4),
                           np.full(n, 5), np.full(n, 6), np.full(n, 7)], axis=1)

        order = np.argsort(time, axis=1, kind="stable")
        time, kind, assignee, teams, reason = (np.take_along_axis(a, order, axis=1)
                                               for a in (time, kind, assignee, teams, reason))
        # escalations keep whoever holds the incident: carry the last assignee/team forward
        carry = np.maximum.accumulate(np.where(assignee >= 0, np.arange(6), 0), axis=1)
        filled = np.take_along_axis(assignee, carry, axis=1)
        filled_team = np.take_along_axis(teams, carry, axis=1)
        previous = np.concatenate([np.full((n, 1), -1), filled[:, :-1]], axis=1)
        previous_team = np.concatenate([np.full((n, 1), -1), filled_team[:, :-1]], axis=1)
        by = np.where(kind == 2, filled, previous)  # the holder escalates; the previous holder hands over
        by[:, 0] = dispatcher
        return {"time": time, "kind": kind, "assignee": filled, "team": filled_team, "previous": previous,
                "previous_team": previous_team, "by": by, "reason": reason}

    def _incident_frame(self, rng: np.random.Generator, **c: np.ndarray | pa.Array) -> pd.DataFrame:
        w = self.world
        n = len(c["ids"])
        crow, prio, impact, deploy, peak = c["crow"], c["prio"], c["impact"], c["deploy"], c["peak"]
        titles = [f"{name} affecting {svc}" for name, svcs in zip(w.category_names, w.category_services, strict=True)
                  for svc in (svcs * 3)[:3]]
        titles_n = 3
        title = concat(when(deploy, "After release: ", ""),
                       lookup(titles, crow * titles_n + rng.integers(0, titles_n, n)))
        top_desc = [t[5] for t in cat.TOP_LEVEL]
        description = concat(title, ". ", lookup(top_desc, c["top"]), " Raised via ", c["source_system"], ".")
        services = [f'["{svcs[0]}"]' for svcs in w.category_services]
        services += ["[" + ",".join(f'"{s}"' for s in svcs) + "]" for svcs in w.category_services]
        affected = lookup(services, crow + len(w.category_services) * (rng.random(n) < 0.6))
        top_tags = [code.lower().replace("_", "-") for code, *_ in cat.TOP_LEVEL]
        tags = concat('["', lookup(top_tags, c["top"]), '","', lookup(cat.PRIORITIES, prio), '"',
                      when(deploy, ',"deploy"', ""), when(peak, ',"peak-season"', ""),
                      when(impact <= 2, ',"customer-facing"', ""), "]")
        region = lookup(cat.REGIONS, choose1(rng, cumulative([0.55, 0.2, 0.2, 0.05]), n))
        orders = np.rint(c["customers"] * 0.35).astype(np.int64)
        metadata = concat('{"deploy_related":', when(deploy, "true", "false"), ',"detected_by":"', c["source_system"],
                          '","orders_affected":', int_text(orders), ',"peak_season":', when(peak, "true", "false"),
                          ',"region":"', region, '"}')
        status = c["status"]
        resolved = (status == _S["resolved"]) | (status == _S["closed"])
        cancelled_now = status == _S["cancelled"]
        dup_now = status == _S["duplicate"]
        rc = c["root_cause"]
        res_cum = cumulative([cat.RESOLUTION_BY_CAUSE[name] for name in cat.ROOT_CAUSES])
        resolution = np.where(resolved, choose(rng, res_cum, rc),
                              np.where(cancelled_now, np.where(rng.random(n) < 0.7, 5, 7), 6))
        rc_texts, rc_first, rc_count = _flatten([cat.ROOT_CAUSE_TEXT[name] for name in cat.ROOT_CAUSES])
        rs_texts, rs_first, rs_count = _flatten([cat.RESOLUTION_TEXT[name] for name in cat.RESOLUTION_CODES])
        pick = rng.integers(0, 1 << 30, n)
        closed_any = resolved | cancelled_now | dup_now
        team = np.asarray(c["assigned_team"])
        has = np.asarray(c["has_assignee"])
        return frame({
            "incident_id": c["ids"],
            "incident_number": text(c["numbers"]),
            "title": text(title),
            "description": text(description),
            "category_id": w.category_ids[crow],
            "status": text(lookup(cat.STATUSES, status)),
            "priority": text(lookup(cat.PRIORITIES, prio)),
            "severity": text(lookup(cat.SEVERITIES, c["severity"])),
            "impact_level": text(lookup(cat.IMPACT_LEVELS, impact)),
            "source": text(lookup(cat.SOURCES, c["source"])),
            "source_system": text(c["source_system"]),
            "reporter_id": c["reporter"],
            "assignee_id": nullable_int(c["assignee"], has),
            "assigned_team": text(lookup(w.team_names, team, has)),
            "customers_affected": c["customers"],
            "revenue_impact": c["revenue"],
            "affected_services": text(affected),
            "is_escalated": c["escalation"] > 0,
            "escalation_level": c["escalation"],
            "reopen_count": c["reopens"],
            "reassignment_count": c["reassignments"],
            "parent_incident_id": nullable_int(c["parent"], c["duplicate"]),
            "detected_at": timestamps(c["detected"]),
            "created_at": timestamps(c["created"]),
            "acknowledged_at": timestamps(c["ack"]),
            "first_response_at": timestamps(c["respond"]),
            "mitigated_at": timestamps(c["mitigate"]),
            "resolved_at": timestamps(c["resolved"]),
            "closed_at": timestamps(c["closed"]),
            "updated_at": timestamps(c["updated"]),
            "root_cause": text(lookup(rc_texts, rc_first[rc] + pick % rc_count[rc], resolved)),
            "root_cause_category": text(lookup(cat.ROOT_CAUSES, rc, resolved)),
            "resolution_summary": text(lookup(rs_texts, rs_first[resolution] + pick % rs_count[resolution],
                                              closed_any)),
            "resolution_code": text(lookup(cat.RESOLUTION_CODES, resolution, closed_any)),
            "tags": text(tags),
            "metadata": text(metadata),
        })

    def _status_history(self, n: int, ids: np.ndarray, times: np.ndarray, present: np.ndarray,
                        status_code: np.ndarray, changed_by: np.ndarray, reason: np.ndarray) -> pd.DataFrame:
        row, slot = np.nonzero(present)  # row-major: grouped by incident, in time order
        new = status_code[row, slot]
        first = np.ones(len(row), dtype=bool)
        first[1:] = row[1:] != row[:-1]
        previous = np.roll(new, 1)
        return frame({
            "status_history_id": self._take("status", len(row)),
            "incident_id": ids[row],
            "previous_status": text(lookup(cat.STATUSES, previous, ~first)),
            "new_status": text(lookup(cat.STATUSES, new)),
            "changed_by": changed_by[row, slot],
            "change_reason": text(lookup(_STATUS_REASONS, reason[row, slot])),
            "changed_at": timestamps(times[row, slot]),
        })

    def _assignment_history(self, ids: np.ndarray, asg: dict[str, np.ndarray], present: np.ndarray) -> pd.DataFrame:
        row, slot = np.nonzero(present)
        w = self.world
        prev = asg["previous"][row, slot]
        prev_team = asg["previous_team"][row, slot]
        return frame({
            "assignment_id": self._take("assignment", len(row)),
            "incident_id": ids[row],
            "previous_assignee_id": nullable_int(prev, prev >= 0),
            "new_assignee_id": nullable_int(asg["assignee"][row, slot], np.ones(len(row), dtype=bool)),
            "previous_team": text(lookup(w.team_names, np.maximum(prev_team, 0), prev_team >= 0)),
            "new_team": text(lookup(w.team_names, asg["team"][row, slot])),
            "assigned_by": asg["by"][row, slot],
            "assignment_reason": text(lookup(_ASSIGN_REASONS, asg["reason"][row, slot])),
            "assigned_at": timestamps(asg["time"][row, slot]),
        })

    def _comments(self, rng: np.random.Generator, ids: np.ndarray, incident: pd.DataFrame, times: np.ndarray,
                  present: np.ndarray, status_code: np.ndarray, changed_by: np.ndarray, prio: np.ndarray,
                  impact: np.ndarray, source: np.ndarray, reporter: np.ndarray, assignee: np.ndarray,
                  updated: np.ndarray, source_system_names: list[str], system_no: np.ndarray,
                  crow: np.ndarray) -> pd.DataFrame:
        as_of, w = self.as_of, self.world
        n = len(ids)
        # 1. the alert that opened machine-raised incidents
        alert = np.nonzero((source == 0) | (source == 4))[0]
        # 2. status updates, more often for urgent incidents; mitigated/resolved ones go to customers
        row, slot = np.nonzero(present & np.isin(status_code, [2, 3, 4, 5]))
        keep = rng.random(len(row)) < np.array([0.9, 0.75, 0.5, 0.3])[prio[row]]
        row, slot = row[keep], slot[keep]
        st = status_code[row, slot]
        public = np.isin(st, [4, 5]) & (impact[row] <= 2)
        at_update = np.minimum(times[row, slot] + rng.integers(0, 600, len(row)), as_of)
        # 3. internal notes between acknowledgement and the last change
        acked = present[:, 1]
        notes = np.where(acked, np.minimum(rng.poisson(np.array([3.0, 2.0, 1.2, 0.6])[prio]), 8), 0)
        note_row = np.repeat(np.arange(n), notes)
        start = times[note_row, 1]
        at_note = start + np.rint(rng.random(len(note_row)) * np.maximum(updated[note_row] - start, 0)).astype(np.int64)

        upd_texts, upd_first, upd_count = _flatten([_STATUS_UPDATES[s] for s in (2, 3, 4, 5)])
        k_update = rng.integers(0, 2, len(row))
        alert_body = concat("Alert fired by ", lookup(source_system_names, source[alert] * 4 + system_no[alert]), ": ",
                            lookup(w.category_names, crow[alert]), ".")
        body = pa.concat_arrays([
            alert_body,
            lookup(upd_texts, upd_first[st - 2] + k_update % upd_count[st - 2]),
            lookup(_NOTES, rng.integers(0, len(_NOTES), len(note_row))),
        ])
        incident_row = np.concatenate([alert, row, note_row])
        created = np.concatenate([times[alert, 0], at_update, at_note])
        author = np.concatenate([reporter[alert], changed_by[row, slot], assignee[note_row]])
        kind = np.concatenate([np.full(len(alert), 3), np.where(public, 1, 2), np.zeros(len(note_row), np.int64)])
        is_public = np.concatenate([np.zeros(len(alert), bool), public, np.zeros(len(note_row), bool)])
        order = np.lexsort((created, incident_row))
        m = len(order)
        edited = created[order] + rng.integers(60, 7200, m)
        was_edited = (rng.random(m) < 0.04) & (kind[order] != 3) & (edited <= as_of)
        return frame({
            "comment_id": self._take("comment", m),
            "incident_id": ids[incident_row[order]],
            "author_id": author[order],
            "comment_type": text(lookup(("internal_note", "customer_update", "status_update", "system"), kind[order])),
            "body": text(body.take(pa.array(order))),
            "is_public": is_public[order],
            "is_system_generated": kind[order] == 3,
            "created_at": timestamps(created[order]),
            "edited_at": timestamps(edited, was_edited),
        })

    def _attachments(self, rng: np.random.Generator, ids: np.ndarray, numbers: pa.Array, prio: np.ndarray,
                     status: np.ndarray, created: np.ndarray, updated: np.ndarray, final_resolve: np.ndarray,
                     close: np.ndarray, assignee: np.ndarray, has_assignee: np.ndarray, reporter: np.ndarray,
                     duplicate: np.ndarray) -> pd.DataFrame:
        n = len(ids)
        count = np.where((rng.random(n) < np.array([0.6, 0.4, 0.25, 0.15])[prio]) & ~duplicate,
                         1 + rng.binomial(2, 0.3, n), 0)
        postmortem = (status == _S["closed"]) & (prio <= 1)
        total = count + postmortem
        row = np.repeat(np.arange(n), total)
        first = np.repeat(np.cumsum(total) - total, total)
        seq = np.arange(len(row)) - first + 1
        is_pm = postmortem[row] & (seq == total[row])
        kind = np.where(is_pm, 4, rng.integers(0, 4, len(row)))
        lo = np.where(is_pm, final_resolve[row], created[row])
        hi = np.where(is_pm, close[row], np.maximum(updated[row], created[row]))
        uploaded = lo + np.rint(rng.random(len(row)) * (hi - lo)).astype(np.int64)
        kinds = cat.ATTACHMENT_KINDS
        size = np.maximum(1024, np.rint(lognormal(rng, np.array([k[3] for k in kinds])[kind], 1.0, len(row))))
        number = numbers.take(pa.array(row))
        file_name = concat(number, "-", lookup([k[0] for k in kinds], kind), "-", int_text(seq), ".",
                           lookup([k[1] for k in kinds], kind))
        year = pc.utf8_slice_codeunits(number, 4, 8)
        digest = _HEX[rng.integers(0, 256, (len(row), 32), dtype=np.uint8)].view("S64").ravel()
        return frame({
            "attachment_id": self._take("attachment", len(row)),
            "incident_id": ids[row],
            "uploaded_by": np.where(has_assignee[row], assignee[row], reporter[row]),
            "file_name": text(file_name),
            "content_type": text(lookup([k[2] for k in kinds], kind)),
            "file_size_bytes": size.astype(np.int64),
            "storage_url": text(concat("s3://shop-incident-attachments/", year, "/", number, "/", file_name)),
            "checksum_sha256": text(pa.array(digest).cast(pa.string())),
            "description": text(lookup([k[4] for k in kinds], kind)),
            "uploaded_at": timestamps(uploaded),
        })

    def _solutions(self, rng: np.random.Generator, ids: np.ndarray, top: np.ndarray, status: np.ndarray,
                   present: np.ndarray, times: np.ndarray, engineer: np.ndarray, team: np.ndarray,
                   cancelled: np.ndarray, duplicate: np.ndarray) -> pd.DataFrame:
        w, as_of = self.world, self.as_of
        n = len(ids)
        mitigated = present[:, 4] & ~cancelled & ~duplicate
        applied = mitigated & (rng.random(n) < 0.5)
        two = applied & (rng.random(n) < 0.25)
        pending = (status == _S["identified"]) & (rng.random(n) < 0.3)  # outcome not known yet
        count = w.template_count[top]
        k1 = rng.integers(0, 1 << 30, n) % count
        k2 = (k1 + 1 + rng.integers(0, 1 << 30, n) % np.maximum(count - 1, 1)) % count
        t1, t2 = w.template_candidates[top, k1], w.template_candidates[top, k2]
        respond, mitigate, identify = times[:, 2], times[:, 4], times[:, 3]
        f1 = np.where(two, rng.uniform(0.1, 0.5, n), rng.uniform(0.2, 0.95, n))
        at1 = np.where(pending, identify + np.rint(rng.random(n) * (as_of - identify)),
                       respond + np.rint(f1 * (mitigate - respond))).astype(np.int64)
        at2 = (respond + np.rint(rng.uniform(0.5, 0.95, n) * (mitigate - respond))).astype(np.int64)
        first_rows = np.nonzero(applied | pending)[0]
        second_rows = np.nonzero(two)[0]
        row = np.concatenate([first_rows, second_rows])
        template = np.concatenate([t1[first_rows], t2[second_rows]])
        applied_at = np.concatenate([at1[first_rows], at2[second_rows]])
        first_of_two = np.concatenate([two[first_rows], np.zeros(len(second_rows), bool)])
        known = ~pending[row]
        eff = w.template_effectiveness[template]
        p_success = np.clip(eff * np.where(first_of_two, 0.5, 1.0) / np.sqrt(w.team_speed[team[row]]), 0, 0.98)
        success = rng.random(len(row)) < p_success
        rating = np.where(success, 3 + rng.binomial(2, eff), 1 + rng.binomial(2, 0.35, len(row)))
        minutes = np.maximum(1, np.rint(lognormal(rng, w.template_minutes[template], 0.5, len(row))))
        note = np.where(~known, 4, np.where(success, rng.integers(0, 2, len(row)), 2 + rng.integers(0, 2, len(row))))
        order = np.lexsort((applied_at, ids[row]))
        row, template, applied_at, known, success, rating, minutes, note = (
            a[order] for a in (row, template, applied_at, known, success, rating, minutes, note))
        return frame({
            "incident_solution_id": self._take("solution", len(row)),
            "incident_id": ids[row],
            "solution_id": w.template_ids[template],
            "applied_by": engineer[row],
            "applied_at": timestamps(applied_at),
            "was_successful": nullable_bool(success, known),
            "effectiveness_rating": nullable_int(rating, known),
            "time_to_apply_minutes": minutes.astype(np.int64),
            "notes": text(lookup(_SOLUTION_NOTES, note)),
        })


_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")


def _flatten(groups: list[tuple[str, ...]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Variable-length text pools as one list plus (first index, count) per group."""
    flat = [t for g in groups for t in g]
    count = np.array([len(g) for g in groups], dtype=np.int64)
    return flat, np.cumsum(count) - count, count
