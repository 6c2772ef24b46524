"""Change correlation: which incidents follow a change (the views v_change_incidents,
v_service_change_failure, v_change_impact over change_events), and how well that finds the incidents
changes caused, measured against known truth (`backtest`).

The rule (templates/views/_changes.sql.j2): an incident follows a change made to its service (its first
affected service, else source_system) that took effect (success or failure) at most
`variables.change_window_minutes` (config/project.yml) before the incident started (detected_at, else
created_at), when no other incident of that service started between the change and it (a change is
blamed for the first incident of its service after it). Deterministic and explainable:
v_change_incidents says why, in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from incidents.project.deployment import Deployment
from incidents.sql.session import Session


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass(frozen=True)
class Backtest:
    incidents: int
    caused: int  # incidents the truth says a change caused
    linked: Score  # v_change_incidents
    baseline: Score  # any change to any service in the `baseline_hours` before the incident
    baseline_hours: int


def backtest(session: Session, dep: Deployment, *, baseline_hours: int = 24) -> Backtest:
    """Precision and recall of v_change_incidents and of the baseline against the truth the seed
    keeps (incidents.metadata:deploy_related), in one query (templates/correlate/backtest.sql.j2)."""
    sql = dep.sql("correlate/backtest", baseline_hours=baseline_hours)
    row = [int(v or 0) for v in session.execute(sql, obj="v_change_incidents")[1][0]]
    incidents, caused, *scores = row
    return Backtest(incidents, caused, Score(*scores[:3]), Score(*scores[3:]), baseline_hours)
