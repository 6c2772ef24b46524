"""The small tables (users, categories, solution templates) and the lookup arrays incidents draw from.

Everything here is drawn from one random stream in a fixed order (users, user speeds, team workloads,
template dates), so the world for given options never changes; keep that order when editing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from incidents.seed import catalog as cat
from incidents.seed.calendar import DAY
from incidents.seed.columns import cumulative, frame, nullable_int, strings, timestamps

REFERENCE_INCIDENTS = 5000
TEAM_NAMES = (*(t.name for t in cat.TEAMS), cat.SUPPORT_TEAM)  # engineering teams, customer support last
_ON_CALL_ROLES = ("engineer", "support_agent")
_STAFF_ROLES = ("engineer", "support_agent", "manager")


@dataclass(frozen=True)
class Teams:
    """Arrays indexed by team: 0..len(TEAMS)-1 = engineering teams, last = customer support."""

    names: tuple[str, ...]
    speed: np.ndarray  # multiplies every duration of the team's incidents
    members: np.ndarray  # (teams, max members) user ids, padded with the first member
    cum: np.ndarray  # (teams, max members) cumulative workload share; padding = 1.0
    size: np.ndarray
    lead: np.ndarray  # user id of each team's lead (its first member)

    @property
    def support(self) -> int:
        return len(self.names) - 1


@dataclass(frozen=True)
class Categories:
    """The category tree; arrays are indexed by category row (top levels first, then leaves)."""

    ids: np.ndarray
    top: np.ndarray  # row of the top-level category (0..9)
    team: np.ndarray  # owning team index
    names: tuple[str, ...]
    services: tuple[tuple[str, ...], ...]
    revenue_share: np.ndarray
    priority_cum: np.ndarray  # (categories, 4)
    leaf_rows: np.ndarray  # category rows incidents are filed under
    code_of: tuple[str, ...]  # category row -> code
    leaf_cum: np.ndarray  # (3 regimes: normal, peak, deploy; leaves)

    def codes(self) -> dict[int, str]:
        """id -> code of every category the generator may file incidents under."""
        return {int(cid): code for cid, code in zip(self.ids, self.code_of, strict=True)}


@dataclass(frozen=True)
class Templates:
    frame: pd.DataFrame
    ids: np.ndarray
    effectiveness: np.ndarray
    minutes: np.ndarray
    candidates: np.ndarray  # (10 top levels, max candidates) template index, padded with the first
    count: np.ndarray  # candidates per top level


@dataclass(frozen=True)
class World:
    users: pd.DataFrame
    user_speed: np.ndarray  # by user id
    system: Mapping[str, int]  # system account name -> user id
    source_accounts: np.ndarray  # (sources, 4) system account that files alerts of each source system
    staff: np.ndarray
    customers: np.ndarray
    customer_cum: np.ndarray
    teams: Teams
    categories: Categories
    templates: Templates


def _scale(incidents: int) -> float:
    return float(np.clip(np.sqrt(incidents / REFERENCE_INCIDENTS), 0.6, 8.0))


def build_world(incidents: int, rng: np.random.Generator, start: int) -> World:
    """Users, categories and templates sized for `incidents`; all created before the window starts."""
    roster = _Roster(rng, start)
    system = {name: roster.add(_Identity("system", None, f"{name} (system)", f"{name}@system.shop.example",
                                         {"kind": "integration", "source_system": name}))
              for name in cat.SYSTEM_ACCOUNTS}
    members = _hire_staff(roster, _scale(incidents))
    customers = _add_customers(roster, incidents)
    user_speed = np.ones(len(roster.users) + 1)
    user_speed[1:] = np.exp(0.25 * rng.standard_normal(len(roster.users)))
    teams = _teams(rng, members)
    templates = _templates(rng, teams, start)
    return World(
        users=roster.frame(), user_speed=user_speed, system=system, source_accounts=_source_accounts(system),
        staff=np.array([u.user_id for u in roster.users if u.role in _STAFF_ROLES]), customers=customers,
        customer_cum=cumulative(1.0 / np.arange(1, len(customers) + 1) ** 0.8),  # some customers report a lot
        teams=teams, categories=_categories(start), templates=templates)


# ---------------------------------------------------------------------- users


@dataclass(frozen=True)
class _Identity:
    """Who a new user is; `_Roster.add` draws when they joined."""

    role: str
    team: str | None
    full_name: str
    email: str
    meta: Mapping[str, object]
    timezone: str = "UTC"
    active: bool = True


@dataclass(frozen=True)
class _User:
    user_id: int
    who: _Identity
    created_at: int
    updated_at: int | None

    @property
    def role(self) -> str:
        return self.who.role


class _Roster:
    """Users in id order; each addition draws its own random fields from the world's stream."""

    def __init__(self, rng: np.random.Generator, start: int) -> None:
        self.rng, self.start = rng, start
        self.users: list[_User] = []
        self._emails: set[str] = set()
        self._staff_no = 0

    def add(self, who: _Identity) -> int:
        assert who.email not in self._emails
        self._emails.add(who.email)
        rng = self.rng
        created = self.start - int(rng.integers(30, 1100)) * DAY - int(rng.integers(0, DAY))
        updated = created + int(rng.integers(0, 20)) * DAY if rng.random() < 0.6 else None
        self.users.append(_User(len(self.users) + 1, who, created, updated))
        return len(self.users)

    def add_staff(self, role: str, team: str | None, active: bool = True) -> int:
        """The next employee; skills, on-call and timezone are drawn before the join date."""
        self._staff_no += 1
        n, rng = self._staff_no, self.rng
        first, last = cat.FIRST_NAMES[n % len(cat.FIRST_NAMES)], cat.LAST_NAMES[(n * 7 + n // 30) % len(cat.LAST_NAMES)]
        skills = sorted(set(rng.choice(cat.SKILLS, size=3, replace=True).tolist()))
        # `and` short-circuits: only on-call roles draw here.
        meta = {"employee_id": f"E{10000 + n}", "skills": skills,
                "oncall": bool(role in _ON_CALL_ROLES and rng.random() < 0.7)}
        timezone = str(cat.TIMEZONES[int(rng.integers(0, len(cat.TIMEZONES)))])
        email = f"{first}.{last}.{n}@shop.example".lower()
        return self.add(_Identity(role, team, f"{first} {last}", email, meta, timezone, active))

    def frame(self) -> pd.DataFrame:
        users = self.users
        return frame({
            "user_id": np.array([u.user_id for u in users], dtype=np.int64),
            "email": strings([u.who.email for u in users]),
            "full_name": strings([u.who.full_name for u in users]),
            "role": strings([u.role for u in users]),
            "team": strings([u.who.team for u in users]),
            "is_active": np.array([u.who.active for u in users], dtype=bool),
            "timezone": strings([u.who.timezone for u in users]),
            "created_at": timestamps(np.array([u.created_at for u in users], dtype=np.int64)),
            "updated_at": timestamps(np.array([u.updated_at or 0 for u in users], dtype=np.int64),
                                     np.array([u.updated_at is not None for u in users])),
            "metadata": strings([json.dumps(u.who.meta, sort_keys=True, separators=(",", ":")) for u in users]),
        })


def _hire_staff(roster: _Roster, scale: float) -> list[list[int]]:
    """Two admins, then each team's manager and members; returns the member ids per team."""
    roster.add_staff("admin", "Incident Management")
    roster.add_staff("admin", "Incident Management")
    sizes = [max(3, round(t.engineers * scale)) for t in cat.TEAMS] + [max(3, round(cat.SUPPORT_AGENTS * scale))]
    members: list[list[int]] = []
    for name, size in zip(TEAM_NAMES, sizes, strict=True):
        roster.add_staff("manager", name)
        role = "support_agent" if name == cat.SUPPORT_TEAM else "engineer"
        # A few people have left; their past incidents stay with them. (The draw comes first: every
        # member draws, the team's first member stays active regardless.)
        members.append([roster.add_staff(role, name, active=roster.rng.random() > 0.06 or i == 0)
                        for i in range(size)])
    return members


def _add_customers(roster: _Roster, incidents: int) -> np.ndarray:
    n_customers = int(np.clip(incidents // 8, 50, 30_000))
    first_id = len(roster.users) + 1
    for i in range(n_customers):
        meta = {"segment": "vip" if i % 17 == 0 else "regular", "lifetime_orders": int(roster.rng.integers(1, 60))}
        roster.add(_Identity("customer", None, f"{cat.FIRST_NAMES[i % len(cat.FIRST_NAMES)]} Customer {i + 1}",
                             f"customer{i + 1}@mail.example", meta, str(cat.TIMEZONES[i % 3])))
    return np.arange(first_id, first_id + n_customers)


def _teams(rng: np.random.Generator, members: list[list[int]]) -> Teams:
    width = max(len(ids) for ids in members)
    team_members = np.zeros((len(members), width), dtype=np.int64)
    team_cum = np.ones((len(members), width))
    for t, ids in enumerate(members):
        team_members[t, :] = ids[0]
        team_members[t, :len(ids)] = ids
        workload = 1.0 / np.arange(1, len(ids) + 1) ** 0.7  # a few people take most of the pages
        workload = rng.permutation(workload)
        team_cum[t, :len(ids)] = np.cumsum(workload / workload.sum())
        team_cum[t, len(ids) - 1:] = 1.0
    return Teams(names=TEAM_NAMES, speed=np.array([t.speed for t in cat.TEAMS] + [1.0]), members=team_members,
                 cum=team_cum, size=np.array([len(ids) for ids in members]), lead=np.array([ids[0] for ids in members]))


def _source_accounts(system: Mapping[str, int]) -> np.ndarray:
    """Alerts of source systems without an account of their own come through the partner gateway."""
    accounts = np.zeros((len(cat.SOURCES), 4), dtype=np.int64)
    for s, source in enumerate(cat.SOURCES):
        for k, name in enumerate(cat.SOURCE_SYSTEMS[source]):
            accounts[s, k] = system.get(name, system["partner-gateway"])
    return accounts


# ---------------------------------------------------------------------- categories


@dataclass(frozen=True)
class _CategoryRow:
    category_id: int
    parent: int | None
    code: str
    name: str
    description: str
    priority: tuple[float, ...]  # P(critical, high, medium, low)
    revenue_share: float
    services: tuple[str, ...]
    top: int  # row of its top-level category
    active: bool
    team: int


def _top_level_rows() -> list[_CategoryRow]:
    rows = []
    for k, top in enumerate(cat.TOP_LEVEL, start=1):
        leaves = cat.LEAVES[top.code]
        priorities = np.mean([leaf.priority for leaf in leaves if leaf.active], axis=0)
        rows.append(_CategoryRow(
            category_id=k, parent=None, code=top.code, name=top.name, description=top.description,
            priority=tuple(priorities), revenue_share=max(leaf.revenue_share for leaf in leaves),
            services=tuple(sorted({s for leaf in leaves for s in leaf.services})[:3]), top=k - 1, active=True,
            team=TEAM_NAMES.index(top.team)))
    return rows


def _leaf_rows() -> list[_CategoryRow]:
    return [_CategoryRow(category_id=100 * k + j, parent=k, code=f"{top.code}.{leaf.code}", name=leaf.name,
                         description=f"{leaf.name} ({top.name}); services: {', '.join(leaf.services)}.",
                         priority=leaf.priority, revenue_share=leaf.revenue_share, services=leaf.services, top=k - 1,
                         active=leaf.active, team=TEAM_NAMES.index(top.team))
            for k, top in enumerate(cat.TOP_LEVEL, start=1) for j, leaf in enumerate(cat.LEAVES[top.code], start=1)]


def _categories(start: int) -> Categories:
    tops, leaves = _top_level_rows(), _leaf_rows()
    rows = tops + leaves
    # Regime weights per leaf (normal, peak, deploy): load-sensitive categories (the ones that block
    # revenue) break more often at peak traffic.
    leaf_weights = [(leaf.weight, leaf.weight * (1 + 2.5 * leaf.revenue_share), leaf.deploy_weight)
                    for top in cat.TOP_LEVEL for leaf in cat.LEAVES[top.code]]
    return Categories(
        ids=np.array([r.category_id for r in rows], dtype=np.int64),
        top=np.array([r.top for r in rows], dtype=np.int64),
        team=np.array([r.team for r in rows], dtype=np.int64),
        names=tuple(r.name for r in rows),
        services=tuple(r.services for r in rows),
        revenue_share=np.array([r.revenue_share for r in rows], dtype=float),
        priority_cum=cumulative([r.priority for r in rows]),
        leaf_rows=np.arange(len(tops), len(rows), dtype=np.int64),
        code_of=tuple(r.code for r in rows),
        leaf_cum=cumulative(np.array(leaf_weights).T))


# ---------------------------------------------------------------------- solution templates


def _json_list(values: tuple[str, ...]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def _templates(rng: np.random.Generator, teams: Teams, start: int) -> Templates:
    templates = cat.TEMPLATES
    n = len(templates)
    top_index = {top.code: i for i, top in enumerate(cat.TOP_LEVEL)}
    owner = {top.code: TEAM_NAMES.index(top.team) for top in cat.TOP_LEVEL}
    ids = np.arange(1, n + 1, dtype=np.int64)
    # Generic runbooks are written by the first team's lead, the others by the owning team's lead.
    authors = teams.lead[[0 if t.category is None else owner[t.category] for t in templates]]
    created = start - rng.integers(60, 700, size=n) * DAY
    updated = created + rng.integers(1, 50, size=n) * DAY
    retired = np.array([t.code == "RUNBOOK.LEGACY_MANUAL_FIX" for t in templates])
    table = frame({
        "solution_id": ids,
        "code": strings([t.code for t in templates]),
        "title": strings([t.title for t in templates]),
        "description": strings([f"{t.title}. Use when the symptoms match; {len(t.steps)} steps." for t in templates]),
        "category_id": nullable_int(np.array([top_index.get(t.category or "", -1) + 1 for t in templates]),
                                    np.array([t.category is not None for t in templates])),
        "steps": strings([_json_list(t.steps) for t in templates]),
        # Usage figures are maintained from incident_solutions after the load (one UPDATE).
        "effectiveness_rating": pd.array([None] * n, dtype="Float64"),
        "usage_count": np.zeros(n, dtype=np.int64),
        "last_used_at": timestamps(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)),
        "tags": strings([_json_list(t.tags) for t in templates]),
        "is_active": ~retired,
        "created_by": authors.astype(np.int64),
        "created_at": timestamps(created),
        "updated_at": timestamps(updated),
    })
    candidates = [[i for i, t in enumerate(templates) if t.category in (top.code, None)] for top in cat.TOP_LEVEL]
    width = max(len(c) for c in candidates)
    return Templates(
        frame=table, ids=ids, effectiveness=np.array([t.effectiveness for t in templates]),
        minutes=np.array([t.minutes for t in templates]),
        candidates=np.array([c + [c[0]] * (width - len(c)) for c in candidates], dtype=np.int64),
        count=np.array([len(c) for c in candidates], dtype=np.int64))
