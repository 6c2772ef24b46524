"""The sections of the report, in order: what each shows, which query (templates/report/) computes
it, which analytics views it reads, and what it covers (the period, all time, or now)."""

from __future__ import annotations

from dataclasses import dataclass

# What a section's figures cover, in words shown under its title.
PERIOD, TREND, ALL_TIME, NOW = "period", "trend", "all_time", "now"


@dataclass(frozen=True)
class Section:
    key: str          # id in the HTML and the JSON island; the query is templates/report/<key>.sql.j2
    heading: str
    views: tuple[str, ...]  # the views the query reads, the first is the one it is titled with
    scope: str
    empty: str        # what the section says when there is nothing to show
    measure: str | None = None  # a column whose non-zero values mean "there is data"
    limit: int = 0    # rows the query returns at most (its `limit`), 0 when it returns all
    counts: str = "incidents created"  # what a period section counts within the period

    @property
    def template(self) -> str:
        return f"report/{self.key}.sql.j2"


SECTIONS: tuple[Section, ...] = (
    Section("headline", "Headline", ("v_open_incident_aging", "v_system_health_overview", "v_incident_overview"),
            PERIOD, "No incidents in the warehouse yet."),
    Section("trends", "Monthly and weekly trend", ("v_monthly_incident_trends", "v_weekly_incident_trends"),
            TREND, "No incidents in the trend window.", "total_incidents"),
    Section("sla_by_priority", "SLA compliance by priority", ("v_incident_overview",),
            PERIOD, "No incidents created in the period.", "incidents"),
    Section("durations", "Time to acknowledge and to resolve against the SLA targets", ("v_duration_distribution",),
            ALL_TIME, "No acknowledged or resolved incidents yet.", "incidents_measured"),
    Section("revenue_by_category", "Revenue impact and customers by category", ("v_category_rollup",),
            ALL_TIME, "No incidents with revenue or customer impact yet.", "subtree_incidents"),
    Section("heatmap", "Weekday x hour", ("v_incident_heatmap",),
            ALL_TIME, "No incidents yet.", "incidents"),
    Section("aging_risk", "Open-incident aging and SLA breach risk", ("v_open_incident_aging", "v_sla_breach_risk"),
            NOW, "Nothing is open right now.", "open_incidents"),
    Section("teams", "Teams and assignees", ("v_team_performance", "v_assignee_workload", "v_assignment_handoffs"),
            ALL_TIME, "No incidents assigned yet.", "total_assigned_incidents"),
    Section("oncall_load", "On-call load per responder", ("v_oncall_interruptions",),
            PERIOD, "Nobody was assigned an incident in the period.", limit=12, counts="assignments made"),
    Section("alert_noise", "Alert noise by source", ("v_alert_noise",),
            PERIOD, "No incident was opened from monitoring alerts in the period (alerts arrive through "
            "`incidents ingest` or `incidents receive`).", "incidents"),
    Section("alert_grouping", "Alert grouping: incidents before and after", ("v_alert_grouping",),
            ALL_TIME, "No incident was opened from monitoring alerts yet.", "alert_episodes"),
    Section("clusters", "Top clusters of the period", ("v_incident_clusters",),
            PERIOD, "No two incidents of one service overlapped in time in the period.", limit=10,
            counts="clusters that began"),
    Section("escalation_reopen", "Escalations and reopens", ("v_escalation_patterns", "v_reopen_rate"),
            ALL_TIME, "No incidents yet.", "total_incidents"),
    Section("peak_event", "Peak event vs baseline", ("v_peak_event_comparison",),
            ALL_TIME, "No incidents around a Black Friday yet.", "peak_incidents"),
    Section("solutions", "Knowledge-base solution effectiveness", ("v_solution_effectiveness",),
            ALL_TIME, "No solution template has been applied yet.", "times_applied", limit=12),
    Section("high_impact", "Top high-impact incidents", ("v_high_impact_incidents",),
            PERIOD, "No high-impact incidents created in the period.", limit=10),
    Section("risk_planning", "Risk and planning",
            ("v_open_incident_risk", "v_volume_forecast_12w", "v_team_capacity", "v_sla_tuning", "v_training_needs",
             "v_incident_cost"),
            NOW, "Nothing to plan with yet: no open incident, forecast, team or cost (run `incidents predict score`)."),
    Section("data_quality", "Data quality", ("v_data_quality_checks",),
            NOW, "No `incidents check` run is recorded yet, so the data has not been checked: run `incidents check`."),
)
