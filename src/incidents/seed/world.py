"""The small tables (users, categories, solution templates) and the lookup arrays incidents draw from."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from incidents.seed import catalog as cat
from incidents.seed.calendar import DAY
from incidents.seed.columns import cumulative, frame, nullable_int, strings, timestamps

REFERENCE_INCIDENTS = 5000


@dataclass
class World:
    users: pd.DataFrame
    categories: list[pd.DataFrame]  # one frame per tree level: parents first (self-FK)
    templates: pd.DataFrame
    # teams: index 0..len(TEAMS)-1 = engineering teams, last = customer support
    team_names: list[str]
    team_speed: np.ndarray
    team_members: np.ndarray  # (teams, max members) user ids, padded with the first member
    team_cum: np.ndarray  # (teams, max members) cumulative workload share; padding = 1.0
    team_size: np.ndarray
    team_lead: np.ndarray
    team_manager: np.ndarray
    admin: int
    user_speed: np.ndarray  # by user id
    system: dict[str, int]
    staff: np.ndarray
    customers: np.ndarray
    customer_cum: np.ndarray
    # categories: index = row in `category_rows` (leaves and top levels)
    category_ids: np.ndarray
    category_top: np.ndarray  # index of the top-level category (0..9)
    category_team: np.ndarray  # owning team index
    category_names: list[str]
    category_services: list[list[str]]
    revenue_share: np.ndarray
    priority_cum: np.ndarray  # (categories, 4)
    leaf_rows: np.ndarray  # category rows incidents are filed under
    leaf_cum: np.ndarray  # (3 regimes: normal, peak, deploy, leaves)
    top_rows: np.ndarray  # category row of each top-level category
    # solution templates
    template_ids: np.ndarray
    template_effectiveness: np.ndarray
    template_minutes: np.ndarray
    template_candidates: np.ndarray  # (10 top-levels, max candidates) template index
    template_count: np.ndarray


def _scale(incidents: int) -> float:
    return float(np.clip(np.sqrt(incidents / REFERENCE_INCIDENTS), 0.6, 8.0))


def build_world(incidents: int, rng: np.random.Generator, start: int) -> World:
    """Users, categories and templates sized for `incidents`; all created before the window starts."""
    scale = _scale(incidents)
    users: list[dict[str, object]] = []
    used_emails: set[str] = set()

    def add(role: str, team: str | None, name: str, email: str, meta: dict[str, object], tz: str = "UTC",
            active: bool = True) -> int:
        user_id = len(users) + 1
        assert email not in used_emails
        used_emails.add(email)
        created = start - int(rng.integers(30, 1100)) * DAY - int(rng.integers(0, DAY))
        users.append({"user_id": user_id, "email": email, "full_name": name, "role": role, "team": team,
                      "is_active": active, "timezone": tz, "created_at": created,
                      "updated_at": created + int(rng.integers(0, 20)) * DAY if rng.random() < 0.6 else None,
                      "metadata": json.dumps(meta, sort_keys=True, separators=(",", ":"))})
        return user_id

    system = {name: add("system", None, f"{name} (system)", f"{name}@system.shop.example",
                        {"kind": "integration", "source_system": name}) for name in cat.SYSTEM_ACCOUNTS}

    def person(role: str, team: str | None, n: int) -> tuple[str, str, dict[str, object], str]:
        first, last = cat.FIRST_NAMES[n % len(cat.FIRST_NAMES)], cat.LAST_NAMES[(n * 7 + n // 30) % len(cat.LAST_NAMES)]
        email = f"{first}.{last}.{n}@shop.example".lower()
        skills = sorted(set(rng.choice(cat.SKILLS, size=3, replace=True).tolist()))
        meta = {"employee_id": f"E{10000 + n}", "skills": skills,
                "oncall": bool(role in ("engineer", "support_agent") and rng.random() < 0.7)}
        return f"{first} {last}", email, meta, str(cat.TIMEZONES[int(rng.integers(0, len(cat.TIMEZONES)))])

    staff_no = 0

    def staff_member(role: str, team: str | None, active: bool = True) -> int:
        nonlocal staff_no
        staff_no += 1
        name, email, meta, tz = person(role, team, staff_no)
        return add(role, team, name, email, meta, tz, active)

    admin = staff_member("admin", "Incident Management")
    staff_member("admin", "Incident Management")
    team_names = [t.name for t in cat.TEAMS] + [cat.SUPPORT_TEAM]
    sizes = [max(3, round(t.engineers * scale)) for t in cat.TEAMS] + [max(3, round(cat.SUPPORT_AGENTS * scale))]
    members: list[list[int]] = []
    managers, leads = [], []
    for name, size in zip(team_names, sizes, strict=True):
        managers.append(staff_member("manager", name))
        role = "support_agent" if name == cat.SUPPORT_TEAM else "engineer"
        # A few people have left; their past incidents stay with them.
        ids = [staff_member(role, name, active=rng.random() > 0.06 or i == 0) for i in range(size)]
        members.append(ids)
        leads.append(ids[0])
    n_customers = int(np.clip(incidents // 8, 50, 30_000))
    first_customer = len(users) + 1
    for i in range(n_customers):
        first = cat.FIRST_NAMES[i % len(cat.FIRST_NAMES)]
        segment = "vip" if i % 17 == 0 else "regular"
        add("customer", None, f"{first} Customer {i + 1}", f"customer{i + 1}@mail.example",
            {"segment": segment, "lifetime_orders": int(rng.integers(1, 60))},
            str(cat.TIMEZONES[i % 3]))
    customers = np.arange(first_customer, first_customer + n_customers)

    user_speed = np.ones(len(users) + 1)
    user_speed[1:] = np.exp(0.25 * rng.standard_normal(len(users)))
    width = max(sizes)
    team_members = np.zeros((len(sizes), width), dtype=np.int64)
    team_cum = np.ones((len(sizes), width))
    for t, ids in enumerate(members):
        team_members[t, :] = ids[0]
        team_members[t, :len(ids)] = ids
        workload = 1.0 / np.arange(1, len(ids) + 1) ** 0.7  # a few people take most of the pages
        workload = rng.permutation(workload)
        team_cum[t, :len(ids)] = np.cumsum(workload / workload.sum())
        team_cum[t, len(ids) - 1:] = 1.0
    customer_weight = 1.0 / np.arange(1, n_customers + 1) ** 0.8  # some customers report a lot

    users_df = frame({
        "user_id": np.array([u["user_id"] for u in users], dtype=np.int64),
        "email": strings([str(u["email"]) for u in users]),
        "full_name": strings([str(u["full_name"]) for u in users]),
        "role": strings([str(u["role"]) for u in users]),
        "team": strings([u["team"] for u in users]),  # type: ignore[misc]
        "is_active": np.array([u["is_active"] for u in users], dtype=bool),
        "timezone": strings([str(u["timezone"]) for u in users]),
        "created_at": timestamps(np.array([u["created_at"] for u in users], dtype=np.int64)),
        "updated_at": timestamps(np.array([u["updated_at"] or 0 for u in users], dtype=np.int64),
                                 np.array([u["updated_at"] is not None for u in users])),
        "metadata": strings([str(u["metadata"]) for u in users]),
    })
    staff = np.array([u["user_id"] for u in users if u["role"] in ("engineer", "support_agent", "manager")])
    world = World(
        users=users_df, categories=[], templates=pd.DataFrame(), team_names=team_names,
        team_speed=np.array([t.speed for t in cat.TEAMS] + [1.0]), team_members=team_members, team_cum=team_cum,
        team_size=np.array(sizes), team_lead=np.array(leads), team_manager=np.array(managers), admin=admin,
        user_speed=user_speed, system=system, staff=staff, customers=customers,
        customer_cum=cumulative(customer_weight),
        category_ids=np.empty(0, np.int64), category_top=np.empty(0, np.int64),
        category_team=np.empty(0, np.int64), category_names=[],
        category_services=[], revenue_share=np.empty(0), priority_cum=np.empty((0, 4)),
        leaf_rows=np.empty(0, np.int64), leaf_cum=np.empty((3, 0)), top_rows=np.empty(0, np.int64),
        template_ids=np.empty(0, np.int64), template_effectiveness=np.empty(0), template_minutes=np.empty(0),
        template_candidates=np.empty((0, 0), np.int64), template_count=np.empty(0, np.int64))
    _categories(world, start)
    _templates(world, rng, start)
    return world


def _categories(world: World, start: int) -> None:
    created = start - 730 * DAY
    team_index = {name: i for i, name in enumerate(world.team_names)}
    rows: list[dict[str, object]] = []
    leaf_weights: list[tuple[float, float, float]] = []
    leaf_rows: list[int] = []
    for k, (code, name, team, _src, _rc, desc) in enumerate(cat.TOP_LEVEL, start=1):
        priorities = np.mean([leaf.priority for leaf in cat.LEAVES[code] if leaf.active], axis=0)
        rows.append({"category_id": k, "parent": None, "code": code, "name": name, "description": desc,
                     "priority": tuple(priorities), "share": max(leaf.revenue_share for leaf in cat.LEAVES[code]),
                     "services": sorted({s for leaf in cat.LEAVES[code] for s in leaf.services})[:3], "top": k - 1,
                     "active": True, "team": team_index[team]})
    for k, (code, _name, team, *_rest) in enumerate(cat.TOP_LEVEL, start=1):
        for j, leaf in enumerate(cat.LEAVES[code], start=1):
            leaf_rows.append(len(rows))
            # Load-sensitive categories (the ones that block revenue) break more often at peak traffic.
            leaf_weights.append((leaf.weight, leaf.weight * (1 + 2.5 * leaf.revenue_share), leaf.deploy_weight))
            rows.append({"category_id": 100 * k + j, "parent": k, "code": f"{code}.{leaf.code}", "name": leaf.name,
                         "description": f"{leaf.name} ({cat.TOP_LEVEL[k - 1][1]}); services: "
                                        f"{', '.join(leaf.services)}.",
                         "priority": leaf.priority, "share": leaf.revenue_share, "services": list(leaf.services),
                         "top": k - 1, "active": leaf.active, "team": team_index[team]})
    world.category_ids = np.array([r["category_id"] for r in rows], dtype=np.int64)
    world.category_top = np.array([r["top"] for r in rows], dtype=np.int64)
    world.category_team = np.array([r["team"] for r in rows], dtype=np.int64)
    world.category_names = [str(r["name"]) for r in rows]
    world.category_services = [list(r["services"]) for r in rows]  # type: ignore[call-overload]
    world.revenue_share = np.array([r["share"] for r in rows], dtype=float)
    world.priority_cum = cumulative([r["priority"] for r in rows])  # type: ignore[misc]
    world.leaf_rows = np.array(leaf_rows, dtype=np.int64)
    world.leaf_cum = cumulative(np.array(leaf_weights).T)
    world.top_rows = np.arange(len(cat.TOP_LEVEL))

    def level(selected: list[dict[str, object]]) -> pd.DataFrame:
        return frame({
            "category_id": np.array([r["category_id"] for r in selected], dtype=np.int64),
            "parent_category_id": nullable_int(np.array([r["parent"] or 0 for r in selected], dtype=np.int64),
                                               np.array([r["parent"] is not None for r in selected])),
            "code": strings([str(r["code"]) for r in selected]),
            "name": strings([str(r["name"]) for r in selected]),
            "description": strings([str(r["description"]) for r in selected]),
            "default_priority": strings([cat.PRIORITIES[int(np.argmax(r["priority"]))] for r in selected]),
            "is_active": np.array([r["active"] for r in selected], dtype=bool),
            "created_at": timestamps(np.full(len(selected), created, dtype=np.int64)),
        })

    world.categories = [level([r for r in rows if r["parent"] is None]),
                        level([r for r in rows if r["parent"] is not None])]


def _templates(world: World, rng: np.random.Generator, start: int) -> None:
    top_index = {code: i for i, (code, *_rest) in enumerate(cat.TOP_LEVEL)}
    n = len(cat.TEMPLATES)
    ids = np.arange(1, n + 1, dtype=np.int64)
    authors = world.team_lead[[0 if t.category is None else _team_of(world, t.category) for t in cat.TEMPLATES]]
    created = start - rng.integers(60, 700, size=n) * DAY
    updated = created + rng.integers(1, 50, size=n) * DAY
    retired = np.array([t.code == "RUNBOOK.LEGACY_MANUAL_FIX" for t in cat.TEMPLATES])

    def json_list(values: tuple[str, ...]) -> str:
        return json.dumps(list(values), separators=(",", ":"))

    world.templates = frame({
        "solution_id": ids,
        "code": strings([t.code for t in cat.TEMPLATES]),
        "title": strings([t.title for t in cat.TEMPLATES]),
        "description": strings([f"{t.title}. Use when the symptoms match; {len(t.steps)} steps."
                                for t in cat.TEMPLATES]),
        "category_id": nullable_int(np.array([top_index.get(t.category or "", -1) + 1 for t in cat.TEMPLATES]),
                                    np.array([t.category is not None for t in cat.TEMPLATES])),
        "steps": strings([json_list(t.steps) for t in cat.TEMPLATES]),
        # Usage figures are maintained from incident_solutions after the load (one UPDATE).
        "effectiveness_rating": pd.array([None] * n, dtype="Float64"),
        "usage_count": np.zeros(n, dtype=np.int64),
        "last_used_at": timestamps(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)),
        "tags": strings([json_list(t.tags) for t in cat.TEMPLATES]),
        "is_active": ~retired,
        "created_by": authors.astype(np.int64),
        "created_at": timestamps(created),
        "updated_at": timestamps(updated),
    })
    world.template_ids = ids
    world.template_effectiveness = np.array([t.effectiveness for t in cat.TEMPLATES])
    world.template_minutes = np.array([t.minutes for t in cat.TEMPLATES])
    candidates = [[i for i, t in enumerate(cat.TEMPLATES) if t.category in (code, None)] for code, *_ in cat.TOP_LEVEL]
    width = max(len(c) for c in candidates)
    world.template_candidates = np.array([c + [c[0]] * (width - len(c)) for c in candidates], dtype=np.int64)
    world.template_count = np.array([len(c) for c in candidates], dtype=np.int64)


def _team_of(world: World, top_code: str) -> int:
    team = next(t for code, _n, t, *_r in cat.TOP_LEVEL if code == top_code)
    return world.team_names.index(team)
