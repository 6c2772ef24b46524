"""Per-chunk incident state as frozen dataclasses, one builder each.

The builders draw from the chunk's single random stream. `Generator._chunk` calls them in a fixed
order and each draws in a fixed order, so the same options give the same rows; a reordered draw
changes every later value, so keep both orders when editing (hence both branches of an `np.where`
are drawn into named variables first: the order of the draws stays visible).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from incidents.seed import catalog as cat
from incidents.seed.calendar import DAY, HOUR, Calendar
from incidents.seed.columns import NEVER, choose, choose1, concat, cumulative, int_text, lognormal, lookup, padded
from incidents.seed.world import World

DEPLOY_SHARE = 0.14
S = {name: i for i, name in enumerate(cat.STATUSES)}  # status name -> index

# Status slots: created, acknowledged, investigating (first response), identified, mitigated, resolved,
# reopen 1 + resolve, reopen 2 + resolve, terminal (closed | cancelled | duplicate).
CREATED, ACKNOWLEDGED, RESPONDED, IDENTIFIED, MITIGATED, RESOLVED = range(6)
REOPENED_1, RESOLVED_1, REOPENED_2, RESOLVED_2, TERMINAL = range(6, 11)
_SLOT_STATUS = np.array([0, 1, 2, 3, 4, 5, 2, 5, 2, 5, 6])
STATUS_REASONS = (
    "Incident created", "Acknowledged by on-call", "Investigation started", "Root cause identified",
    "Customer impact mitigated", "Fix deployed and verified", "Reopened: the problem recurred",
    "Fix verified after reopen", "Post-incident review complete", "Auto-closed: no activity after resolution",
    "Duplicate of an existing incident", *cat.CANCEL_REASONS,
)
_SLOT_REASON = np.array([0, 1, 2, 3, 4, 5, 6, 7, 6, 7, 8])
_AUTO_CLOSED, _DUPLICATE_OF, _FIRST_CANCEL_REASON = 9, 10, 11  # indices into STATUS_REASONS

# Assignment slot kinds (Assignments.kind) and reasons (Assignments.reason indexes ASSIGN_REASONS).
ASSIGNED, ESCALATED = 1, 2
ASSIGN_REASONS = (
    "Paged by the on-call rotation", "Picked up from the support queue", "Assigned by support triage",
    "Routed to the owning team", "Handed over to a specialist", "Escalated to level 1 (team lead)",
    "Escalated to level 2 (management)", "Escalated to level 3 (executive)",
)

_SEVERITY_CUM = cumulative(cat.SEVERITY_BY_PRIORITY)
_IMPACT_CUM = cumulative(cat.IMPACT_BY_PRIORITY)
_SOURCE_CUM = cumulative([top.source_mix for top in cat.TOP_LEVEL])
_DEPLOY_SOURCE_CUM = cumulative([0.70, 0.05, 0.15, 0.0, 0.10])
_ROOT_CAUSE_MIX = np.array([top.root_cause_mix for top in cat.TOP_LEVEL])
_ROOT_CAUSE_MIX[:, 0] = 0.0  # deployment causes come only from the deploy stream: they follow the release calendar
_ROOT_CAUSE_CUM = cumulative(_ROOT_CAUSE_MIX)
_SOFTWARE_BUG = cat.ROOT_CAUSES.index("software_bug")


class Serials:
    """Next id of each child table; continues across chunks."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def take(self, table: str, count: int) -> np.ndarray:
        first = self._next.get(table, 1)
        self._next[table] = first + count
        return np.arange(first, first + count, dtype=np.int64)


@dataclass(frozen=True)
class Chunk:
    """What every builder of one chunk shares: its random stream, the world, the calendar and 'now'."""

    rng: np.random.Generator
    n: int  # incidents in the chunk
    world: World
    calendar: Calendar
    as_of: int
    serials: Serials


# ---------------------------------------------------------------------- arrivals


@dataclass(frozen=True)
class Arrivals:
    """The chunk's incidents: ids and numbers follow creation time."""

    ids: np.ndarray
    numbers: pa.Array  # INC-<year>-<seq in year>
    created: np.ndarray
    deploy: np.ndarray  # caused by a deployment (drawn from the release calendar)
    peak: np.ndarray  # created in a peak-traffic hour


@dataclass(frozen=True)
class ArrivalPlan:
    """Creation times of all incidents, sorted (8 bytes an incident, kept for the whole run)."""

    created: np.ndarray
    deploy: np.ndarray
    year: np.ndarray
    year_seq: np.ndarray

    def chunk(self, lo: int, hi: int, calendar: Calendar) -> Arrivals:
        created = self.created[lo:hi]
        return Arrivals(ids=np.arange(lo + 1, hi + 1, dtype=np.int64),
                        numbers=concat("INC-", int_text(self.year[lo:hi]), "-", padded(self.year_seq[lo:hi], 6)),
                        created=created, deploy=self.deploy[lo:hi], peak=calendar.is_peak(created))


def plan_arrivals(rng: np.random.Generator, calendar: Calendar, n: int) -> ArrivalPlan:
    n_deploy = int(rng.binomial(n, DEPLOY_SHARE))
    times = np.concatenate([calendar.sample(rng, n - n_deploy, deploy=False),
                            calendar.sample(rng, n_deploy, deploy=True)])
    deploy = np.arange(n) >= n - n_deploy
    order = np.argsort(times, kind="stable")
    created = times[order]
    years = created.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    first_of_year = np.searchsorted(years, years, side="left")
    return ArrivalPlan(created=created, deploy=deploy[order], year=years, year_seq=np.arange(n) - first_of_year + 1)


# ---------------------------------------------------------------------- what it is, who owns it


@dataclass(frozen=True)
class Classification:
    """What the incident is and where it came from (indices into the catalog's tuples)."""

    crow: np.ndarray  # category row: a leaf, or (a few) its top level
    top: np.ndarray  # top-level category row
    prio: np.ndarray
    severity: np.ndarray
    impact: np.ndarray
    source: np.ndarray
    source_system: pa.Array  # name of the system that raised it
    reporter: np.ndarray  # user id
    root_cause: np.ndarray

    @property
    def machine(self) -> np.ndarray:
        """Raised by monitoring or automation (not by a person)."""
        return (self.source == 0) | (self.source == 4)


_SOURCE_SYSTEM_NAMES = [s for source in cat.SOURCES for s in cat.SOURCE_SYSTEMS[source]]  # 4 per source


def classify(c: Chunk, arrivals: Arrivals) -> Classification:
    rng, n, categories = c.rng, c.n, c.world.categories
    regime = np.where(arrivals.deploy, 2, np.where(arrivals.peak, 1, 0))
    leaf = categories.leaf_rows[choose(rng, categories.leaf_cum, regime)]
    crow = np.where(rng.random(n) < 0.02, categories.top[leaf], leaf)  # a few filed at top level only
    top = categories.top[crow]
    prio = choose(rng, categories.priority_cum, crow)
    severity = choose(rng, _SEVERITY_CUM, prio)
    impact = choose(rng, _IMPACT_CUM, prio)
    deploy_source = choose1(rng, _DEPLOY_SOURCE_CUM, n)
    usual_source = choose(rng, _SOURCE_CUM, top)
    source = np.where(arrivals.deploy, deploy_source, usual_source)
    system_no = rng.integers(0, 4, n)
    reporter = _reporters(c, source, system_no)
    deploy_cause = np.where(rng.random(n) < 0.85, 0, 1)  # deployment, else configuration
    usual_cause = choose(rng, _ROOT_CAUSE_CUM, top)
    return Classification(
        crow=crow, top=top, prio=prio, severity=severity, impact=impact, source=source,
        source_system=lookup(_SOURCE_SYSTEM_NAMES, source * 4 + system_no), reporter=reporter,
        root_cause=np.where(arrivals.deploy, deploy_cause, usual_cause))


def _reporters(c: Chunk, source: np.ndarray, system_no: np.ndarray) -> np.ndarray:
    """Customers report customer_report incidents, staff internal ones, system accounts the rest."""
    w = c.world
    customer = w.customers[choose1(c.rng, w.customer_cum, c.n)]
    staff = w.staff[c.rng.integers(0, len(w.staff), c.n)]
    return np.where(source == 1, customer, np.where(source == 2, staff, w.source_accounts[source, system_no]))


@dataclass(frozen=True)
class Owner:
    """The owning team and the engineer who works the incident."""

    team: np.ndarray
    member: np.ndarray  # position in the team
    engineer: np.ndarray  # user id
    speed: np.ndarray  # multiplies every step's duration


def assign_owner(c: Chunk, classification: Classification) -> Owner:
    teams = c.world.teams
    team = c.world.categories.team[classification.crow]
    member = choose(c.rng, teams.cum, team)
    engineer = teams.members[team, member]
    return Owner(team=team, member=member, engineer=engineer, speed=teams.speed[team] * c.world.user_speed[engineer])


# ---------------------------------------------------------------------- lifecycle


@dataclass(frozen=True)
class Exits:
    """How an incident may end early; cancel_at / duplicate_at only count where the flag is set."""

    cancelled: np.ndarray
    cancel_at: np.ndarray
    duplicate: np.ndarray
    parent: np.ndarray  # incident id of the original (0 where not a duplicate)
    duplicate_at: np.ndarray

    @property
    def voided(self) -> np.ndarray:
        """Cancelled or duplicate: no business impact, no escalation."""
        return self.cancelled | self.duplicate


@dataclass(frozen=True)
class Lifecycle:
    """When each step would happen if nothing ends it early; the status slots apply exits and as_of."""

    created: np.ndarray
    detected: np.ndarray
    ack: np.ndarray
    respond: np.ndarray
    identify: np.ndarray
    mitigate: np.ndarray
    resolve1: np.ndarray
    reopen1: np.ndarray  # reopened once (bool) ...
    reopen2: np.ndarray  # ... and twice
    reopened1: np.ndarray
    resolve2: np.ndarray
    reopened2: np.ndarray
    resolve3: np.ndarray
    final_resolve: np.ndarray
    close: np.ndarray
    auto_closed: np.ndarray  # closed by the bot after days without activity
    exits: Exits


@dataclass(frozen=True)
class _Durations:
    """Log-normal step durations in seconds by priority, scaled by whoever works the incident."""

    rng: np.random.Generator
    prio: np.ndarray
    speed: np.ndarray

    def __call__(self, step: str, factor: np.ndarray | float = 1.0) -> np.ndarray:
        median = np.array(cat.STEP_MEDIANS[step])[self.prio] * 60.0
        drawn = lognormal(self.rng, median, cat.STEP_SIGMA[step], len(self.prio))
        return np.maximum(1, np.rint(drawn * self.speed * factor)).astype(np.int64)


def lifecycle(c: Chunk, arrivals: Arrivals, classification: Classification, owner: Owner) -> Lifecycle:
    rng, n, prio = c.rng, c.n, classification.prio
    step = _Durations(rng, prio, owner.speed)
    created = arrivals.created
    detected = created - np.rint(lognormal(rng, np.where(classification.machine, 120.0, 2700.0), 0.8, n)
                                 ).astype(np.int64)
    night = c.calendar.is_night(created) & (prio >= 2)
    queued = np.where(rng.random(n) < np.array([0.0, 0.002, 0.015, 0.05])[prio],
                      np.array([1.0, 30.0, 60.0, 300.0])[prio], 1.0)  # forgotten in a queue
    ack = created + step("ack", np.where(night, 2.0, 1.0) * np.where(arrivals.peak, 1.3, 1.0) * queued)
    respond = ack + step("respond")
    # A backlog: some lower-priority incidents stall (waiting on a vendor, a release, a decision),
    # so aged open incidents exist at every stage, not only the last few days' arrivals.
    stall = rng.random(n)
    stall_identify = np.where(stall < np.array([0.002, 0.01, 0.012, 0.025])[prio], 15.0, 1.0)
    stall_resolve = np.where(stall > 1 - np.array([0.008, 0.03, 0.02, 0.04])[prio], 25.0, 1.0)
    identify = respond + step("identify", stall_identify)
    mitigate = identify + step("mitigate")
    resolve1 = mitigate + step("resolve", stall_resolve)
    reopen_p = np.array([0.02, 0.03, 0.05, 0.06])[prio] * np.where(classification.root_cause == _SOFTWARE_BUG, 1.8, 1.0)
    reopen1 = rng.random(n) < reopen_p
    reopen2 = reopen1 & (rng.random(n) < 0.15)
    reopened1 = resolve1 + _reopen_gap(rng, n)
    resolve2 = reopened1 + step("resolve", 0.6)
    reopened2 = resolve2 + _reopen_gap(rng, n)
    resolve3 = reopened2 + step("resolve", 0.6)
    final_resolve = np.where(reopen2, resolve3, np.where(reopen1, resolve2, resolve1))
    close = final_resolve + step("close")
    exits = _exits(c, arrivals, classification, ack)  # drawn after every step
    return Lifecycle(
        created=created, detected=detected, ack=ack, respond=respond, identify=identify, mitigate=mitigate,
        resolve1=resolve1, reopen1=reopen1, reopen2=reopen2, reopened1=reopened1, resolve2=resolve2,
        reopened2=reopened2, resolve3=resolve3, final_resolve=final_resolve, close=close,
        auto_closed=close - final_resolve > 5 * DAY, exits=exits)


def _reopen_gap(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.rint(lognormal(rng, 8 * HOUR, 1.0, n)).astype(np.int64) + 1


def _exits(c: Chunk, arrivals: Arrivals, classification: Classification, ack: np.ndarray) -> Exits:
    rng, n = c.rng, c.n
    cancelled = rng.random(n) < np.where(classification.machine, 0.06, 0.025)
    duplicate, parent = _duplicates(rng, arrivals, classification.crow, cancelled)
    cancel_after = np.maximum(60, np.rint(lognormal(rng, 1800.0 * (1 + classification.prio), 0.9, n)))
    duplicate_after = np.maximum(60, np.rint(lognormal(rng, 1500.0, 0.8, n)))
    return Exits(cancelled=cancelled & ~duplicate, cancel_at=ack + cancel_after.astype(np.int64),
                 duplicate=duplicate, parent=parent, duplicate_at=arrivals.created + duplicate_after.astype(np.int64))


def _duplicates(rng: np.random.Generator, arrivals: Arrivals, crow: np.ndarray,
                cancelled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A few incidents duplicate the previous original in their category within 12 hours."""
    ids, created = arrivals.ids, arrivals.created
    n = len(ids)
    candidate = (rng.random(n) < 0.025) & ~cancelled
    order = np.lexsort((created, crow))
    cand = candidate[order]
    previous = np.maximum.accumulate(np.where(~cand, np.arange(n), -1))
    ok = cand & (previous >= 0)
    prev = np.where(ok, previous, 0)
    ok &= (crow[order][prev] == crow[order]) & (created[order] - created[order][prev] <= 12 * HOUR)
    duplicate = np.zeros(n, dtype=bool)
    duplicate[order[ok]] = True
    parent = np.zeros(n, dtype=np.int64)
    parent[order[ok]] = ids[order[prev[ok]]]
    return duplicate, parent


# ---------------------------------------------------------------------- status slots and impact


@dataclass(frozen=True)
class StatusSlots:
    """One column per status slot (see CREATED..TERMINAL); NEVER = does not happen."""

    times: np.ndarray  # (n, 11)
    code: np.ndarray  # (n, 11) index into STATUSES
    reason: np.ndarray  # (n, 11) index into STATUS_REASONS
    present: np.ndarray  # happened by as_of
    status: np.ndarray  # current status: the last present slot's

    def at(self, slot: int) -> np.ndarray:
        """The slot's time where it has happened, else NEVER."""
        return np.where(self.present[:, slot], self.times[:, slot], NEVER)


def status_slots(c: Chunk, life: Lifecycle) -> StatusSlots:
    n, exits = c.n, life.exits
    times = np.stack([life.created, life.ack, life.respond, life.identify, life.mitigate, life.resolve1,
                      np.where(life.reopen1, life.reopened1, NEVER), np.where(life.reopen1, life.resolve2, NEVER),
                      np.where(life.reopen2, life.reopened2, NEVER), np.where(life.reopen2, life.resolve3, NEVER),
                      life.close], axis=1)
    code = np.tile(_SLOT_STATUS, (n, 1))
    reason = np.tile(_SLOT_REASON, (n, 1))
    reason[life.auto_closed, TERMINAL] = _AUTO_CLOSED
    # Cancelled: first response only if it came before the cancellation, then straight to terminal.
    cancelled = exits.cancelled
    times[cancelled, IDENTIFIED:TERMINAL] = NEVER
    times[cancelled, RESPONDED] = np.where(life.respond < exits.cancel_at, life.respond, NEVER)[cancelled]
    times[cancelled, TERMINAL] = exits.cancel_at[cancelled]
    code[cancelled, TERMINAL] = S["cancelled"]
    reason[cancelled, TERMINAL] = _FIRST_CANCEL_REASON + c.rng.integers(0, len(cat.CANCEL_REASONS), n)[cancelled]
    # Duplicates go from created straight to terminal.
    duplicate = exits.duplicate
    times[duplicate, ACKNOWLEDGED:TERMINAL] = NEVER
    times[duplicate, TERMINAL] = exits.duplicate_at[duplicate]
    code[duplicate, TERMINAL] = S["duplicate"]
    reason[duplicate, TERMINAL] = _DUPLICATE_OF
    present = times <= c.as_of
    last = times.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
    return StatusSlots(times=times, code=code, reason=reason, present=present, status=code[np.arange(n), last])


@dataclass(frozen=True)
class Impact:
    revenue: np.ndarray  # revenue lost, rounded to cents (0 for voided incidents)
    customers: np.ndarray  # customers affected


def business_impact(c: Chunk, classification: Classification, life: Lifecycle, slots: StatusSlots) -> Impact:
    """Revenue flow blocked from detection until mitigation (or closing, or now)."""
    share = c.world.categories.revenue_share[classification.crow]
    end = np.where(slots.present[:, MITIGATED], life.mitigate,
                   np.where(slots.status >= S["cancelled"], life.detected, np.minimum(slots.at(TERMINAL), c.as_of)))
    minutes = np.clip((end - life.detected) / 60.0, 0, 3 * 1440)
    fraction = np.array(cat.IMPACT_FRACTION)[classification.impact]
    flow = c.calendar.traffic_at(life.created) * fraction * minutes
    revenue = 3800.0 * share * flow * lognormal(c.rng, 1.0, 0.5, c.n)
    customers = np.rint(180.0 * np.maximum(share, 0.03) * flow * lognormal(c.rng, 1.0, 0.6, c.n))
    voided = life.exits.voided
    return Impact(revenue=np.where(voided, 0.0, np.minimum(np.round(revenue, 2), 9e8)),
                  customers=np.where(voided, 0, customers).astype(np.int64))


# ---------------------------------------------------------------------- assignments


@dataclass(frozen=True)
class Assignments:
    """Six slots per incident sorted by time: up to three assignments (triage -> handoff -> owner) and
    up to three escalations; NEVER = does not happen. Escalations keep the holder."""

    time: np.ndarray  # (n, 6)
    kind: np.ndarray  # ASSIGNED | ESCALATED
    assignee: np.ndarray  # holder after the slot
    team: np.ndarray  # holder's team after the slot
    previous: np.ndarray  # holder before the slot (-1 = nobody)
    previous_team: np.ndarray
    by: np.ndarray  # who made the change
    reason: np.ndarray  # index into ASSIGN_REASONS
    present: np.ndarray  # happened by as_of


@dataclass(frozen=True)
class _Chain:
    """The three assignment slots before sorting: assignee / team / reason per slot, -1 = no such slot."""

    assignee: np.ndarray  # (n, 3)
    team: np.ndarray
    reason: np.ndarray
    dispatcher: np.ndarray  # who makes the first assignment


def assignments(c: Chunk, classification: Classification, owner: Owner, life: Lifecycle, impact: Impact) -> Assignments:
    n = c.n
    chain = _handoff_chain(c, classification, owner)
    time = _assignment_times(c, classification, chain, life, impact)
    order = np.argsort(time, axis=1, kind="stable")

    def in_order(slots: np.ndarray) -> np.ndarray:
        return np.take_along_axis(slots, order, axis=1)

    none = np.full((n, 3), -1)  # escalation slots name no new assignee
    kind = in_order(np.tile(np.array([ASSIGNED] * 3 + [ESCALATED] * 3), (n, 1)))
    assignee = in_order(np.concatenate([chain.assignee, none], axis=1))
    teams = in_order(np.concatenate([chain.team, none], axis=1))
    reason = in_order(np.concatenate([chain.reason, np.tile(np.array([5, 6, 7]), (n, 1))], axis=1))
    # escalations keep whoever holds the incident: carry the last assignee/team forward
    carry = np.maximum.accumulate(np.where(assignee >= 0, np.arange(6), 0), axis=1)
    filled = np.take_along_axis(assignee, carry, axis=1)
    filled_team = np.take_along_axis(teams, carry, axis=1)
    previous = np.concatenate([np.full((n, 1), -1), filled[:, :-1]], axis=1)
    previous_team = np.concatenate([np.full((n, 1), -1), filled_team[:, :-1]], axis=1)
    by = np.where(kind == ESCALATED, filled, previous)  # the holder escalates; the previous holder hands over
    by[:, 0] = chain.dispatcher
    time = in_order(time)
    return Assignments(time=time, kind=kind, assignee=filled, team=filled_team, previous=previous,
                       previous_team=previous_team, by=by, reason=reason, present=time <= c.as_of)


def _handoff_chain(c: Chunk, classification: Classification, owner: Owner) -> _Chain:
    """Customer reports mostly go through support triage first; slow teams hand over to a colleague more."""
    rng, n, teams = c.rng, c.n, c.world.teams
    support = teams.support
    triage = (classification.source == 1) & (rng.random(n) < 0.85)
    handoff = rng.random(n) < np.where(teams.speed[owner.team] > 1.1, 0.28, 0.14)
    agent = teams.members[support, choose(rng, teams.cum, np.full(n, support))]
    size = teams.size[owner.team]
    helper = teams.members[owner.team, (owner.member + 1 + rng.integers(0, 1 << 30, n) % (size - 1)) % size]
    engineer = owner.engineer
    first = np.where(triage, agent, np.where(handoff, helper, engineer))
    second = np.where(triage & handoff, helper, np.where(triage | handoff, engineer, -1))
    third = np.where(triage & handoff, engineer, -1)
    machine = classification.machine
    return _Chain(
        assignee=np.stack([first, second, third], axis=1),
        team=np.stack([np.where(triage, support, owner.team), owner.team, owner.team], axis=1),
        reason=np.stack([np.where(machine, 0, np.where(triage, 1, 2)), np.where(triage, 3, 4), np.full(n, 4)],
                        axis=1),
        dispatcher=np.where(machine, c.world.system["pagerduty"], agent))


def _assignment_times(c: Chunk, classification: Classification, chain: _Chain, life: Lifecycle,
                      impact: Impact) -> np.ndarray:
    """(n, 6) unsorted slot times: handoffs and escalations fall between acknowledgement and mitigation."""
    rng, n, ack, exits = c.rng, c.n, life.ack, life.exits
    span = np.maximum(np.where(exits.cancelled, exits.cancel_at, life.mitigate) - ack, 8)
    f = np.sort(rng.uniform(0.05, 0.7, (n, 2)), axis=1)
    t1 = ack + np.maximum(1, np.rint(f[:, 0] * span)).astype(np.int64)
    t2 = np.maximum(t1 + 1, ack + np.rint(f[:, 1] * span).astype(np.int64))
    level = np.where(exits.duplicate, 0, _escalation_level(rng, classification.prio, impact.revenue))
    g = np.sort(rng.uniform(0.02, 0.95, (n, 3)), axis=1)
    e = ack[:, None] + np.maximum(1, np.rint(g * span[:, None])).astype(np.int64)
    e[:, 1] = np.maximum(e[:, 1], e[:, 0] + 1)
    e[:, 2] = np.maximum(e[:, 2], e[:, 1] + 1)
    second, third = chain.assignee[:, 1] >= 0, chain.assignee[:, 2] >= 0
    time = np.stack([ack, np.where(second, t1, NEVER), np.where(third, t2, NEVER),
                     np.where(level >= 1, e[:, 0], NEVER), np.where(level >= 2, e[:, 1], NEVER),
                     np.where(level >= 3, e[:, 2], NEVER)], axis=1)
    time[exits.duplicate] = NEVER
    return time


def _escalation_level(rng: np.random.Generator, prio: np.ndarray, revenue: np.ndarray) -> np.ndarray:
    """0..3: urgent and costly incidents escalate more, each level less likely than the one before."""
    n = len(prio)
    p1 = np.array([0.45, 0.20, 0.06, 0.015])[prio] + np.where(revenue > 50_000, 0.25, 0.0)
    return ((rng.random(n) < p1).astype(np.int64)
            * (1 + (rng.random(n) < np.array([0.45, 0.30, 0.15, 0.10])[prio])
               * (1 + (rng.random(n) < np.array([0.35, 0.20, 0.05, 0.02])[prio]))))


def status_authors(c: Chunk, classification: Classification, life: Lifecycle, slots: StatusSlots,
                   asg: Assignments) -> np.ndarray:
    """(n, 11) who changed each status: whoever held the incident then (a support agent before anyone)."""
    teams = c.world.teams
    held = (asg.time[:, None, :] <= slots.times[:, :, None]).sum(axis=2)
    holder = np.take_along_axis(asg.assignee, np.maximum(held - 1, 0), axis=1)
    triage_agent = teams.members[teams.support, choose(c.rng, teams.cum, np.full(c.n, teams.support))]
    changed_by = np.where(held > 0, holder, triage_agent[:, None])
    changed_by[:, CREATED] = classification.reporter
    changed_by[life.auto_closed & (slots.code[:, TERMINAL] == S["closed"]), TERMINAL] = c.world.system["incident-bot"]
    return changed_by


# ---------------------------------------------------------------------- the incident as of now


@dataclass(frozen=True)
class Current:
    """The incident row's derived columns as of `as_of`, replayed from the slots (see generate.py)."""

    status: np.ndarray
    resolved_at: np.ndarray
    closed_at: np.ndarray
    assignee: np.ndarray  # 0 where nobody holds it yet
    has_assignee: np.ndarray
    assigned_team: np.ndarray
    reassignments: np.ndarray
    escalation: np.ndarray  # escalation level
    reopens: np.ndarray
    updated: np.ndarray  # last status or assignment change

    @property
    def is_resolved(self) -> np.ndarray:
        return is_resolved(self.status)


def is_resolved(status: np.ndarray) -> np.ndarray:
    """Resolved or closed (cancelled and duplicate incidents are not)."""
    return (status == S["resolved"]) | (status == S["closed"])


def _last_resolution(slots: StatusSlots) -> np.ndarray:
    """The latest resolution that has happened by as_of (a reopen later than now has not: the incident is
    resolved at its earlier resolution, not at one still to come)."""
    resolves = [RESOLVED, RESOLVED_1, RESOLVED_2]
    latest = np.where(slots.present[:, resolves], slots.times[:, resolves], -1).max(axis=1)
    return np.where(latest >= 0, latest, NEVER)


def current_state(life: Lifecycle, slots: StatusSlots, asg: Assignments) -> Current:
    present = asg.present
    last = np.maximum(present.sum(axis=1) - 1, 0)
    holder = asg.assignee[np.arange(len(last)), last]
    holder_team = asg.team[np.arange(len(last)), last]
    has_assignee = present[:, 0]
    status = slots.status
    return Current(
        status=status, resolved_at=np.where(is_resolved(status), _last_resolution(slots), NEVER),
        closed_at=slots.at(TERMINAL),
        assignee=np.where(has_assignee, holder, 0), has_assignee=has_assignee,
        assigned_team=np.where(has_assignee, holder_team, 0),
        reassignments=(present & (asg.kind == ASSIGNED)).sum(axis=1) - has_assignee,
        escalation=(present & (asg.kind == ESCALATED)).sum(axis=1),
        reopens=slots.present[:, REOPENED_1].astype(np.int64) + slots.present[:, REOPENED_2],
        updated=np.maximum(np.where(slots.present, slots.times, 0).max(axis=1),
                           np.where(present, asg.time, 0).max(axis=1)))


@dataclass(frozen=True)
class ChunkState:
    """Everything drawn for one chunk; the table builders read from it."""

    arrivals: Arrivals
    classification: Classification
    owner: Owner
    life: Lifecycle
    slots: StatusSlots
    impact: Impact
    assignments: Assignments
    status_by: np.ndarray  # (n, 11) user who made each status change
    current: Current
