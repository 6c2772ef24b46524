"""Each section's rows -> what the page shows: tiles, charts and compact tables, with every cell
formatted. Shared by the HTML and the text report, so both show the same figures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from incidents.report import formats as f
from incidents.report.charts import (
    INK,
    PRIORITY_COLOURS,
    SERIES,
    Chart,
    Fmt,
    Series,
    Unit,
    columns,
    duration_unit,
    hbars,
    heatmap,
)
from incidents.report.data import ReportData, SectionResult, number

Cell = Callable[[Any], str]


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    sub: str = ""
    tone: str = ""  # red / amber / green


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    wide: tuple[int, ...] = ()  # indexes of free-text columns the text report may cut
    brief: tuple[int, ...] = ()  # indexes the text report shows (all when empty): it has 100 columns

    def for_text(self) -> Table:
        keep = self.brief or tuple(range(len(self.headers)))
        pick = lambda xs: tuple(xs[i] for i in keep)  # noqa: E731
        return Table(pick(self.headers), pick(self.numeric), tuple(pick(r) for r in self.rows), self.caption,
                     tuple(keep.index(i) for i in self.wide if i in keep))


@dataclass
class Body:
    tiles: list[Tile] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    grid: tuple[list[str], list[str], list[list[int]]] | None = None  # heat map for the text report
    notes: list[str] = field(default_factory=list)  # sentences under the section: what a measure means


Col = tuple[str, str, Cell]  # (header, column, formatter); numeric unless the formatter is f.text/f.when


def table(records: Sequence[dict[str, Any]], cols: Sequence[Col], caption: str = "",
          brief: Sequence[str] = ()) -> Table:
    """A formatted table; `brief` names the headers the 100-column text report keeps."""
    headers = tuple(h for h, _, _ in cols)
    numeric = tuple(fn not in (f.text, f.when) for _, _, fn in cols)
    rows = tuple(tuple(fn(r[c]) for _, c, fn in cols) for r in records)
    free_text = ("title", "category_name", "team", "leader_category_name", "duplicate_numbers")
    wide = tuple(i for i, (_, c, _) in enumerate(cols) if c in free_text)
    return Table(headers, numeric, rows, caption, wide, tuple(headers.index(h) for h in brief))


def _vals(records: Sequence[dict[str, Any]], column: str) -> list[float | None]:
    return [number(r[column]) for r in records]


def _priority_series(records: Sequence[dict[str, Any]], prefix: str = "", suffix: str = "_incidents") -> list[Series]:
    return [Series(p, colour, _vals(records, f"{prefix}{p}{suffix}")) for p, colour in PRIORITY_COLOURS.items()]


# --------------------------------------------------------------------------- sections

def headline(report: ReportData, s: SectionResult) -> Body:
    r = s.records[0]
    cur = report.currency
    by_priority = " \u00b7 ".join(f"{p} {f.count(r[f'open_{p}'])}" for p in PRIORITY_COLOURS)

    def prev(*pairs: tuple[str, Cell]) -> str:
        return "previous " + " / ".join(fn(r[f"prev_{c}"]) for c, fn in pairs)

    tiles = [
        Tile("Open incidents", f.count(r["open_incidents"]), by_priority,
             "red" if r["open_critical"] else ""),
        Tile("Revenue at risk", f.money(r["revenue_at_risk"], cur),
             f"in open incidents; {f.count(r['open_resolve_sla_breached'])} open past resolve target"),
        Tile("Health now", f.text(r["health_status"]), f.text(r["health_reason"]), str(r["health_status"] or "")),
        Tile("Incidents in period", f.count(r["incidents"]), prev(("incidents", f.count))),
        Tile("MTTA median / p90", f"{f.minutes(r['mtta_median_minutes'])} / {f.minutes(r['mtta_p90_minutes'])}",
             prev(("mtta_median_minutes", f.minutes), ("mtta_p90_minutes", f.minutes))),
        Tile("MTTR median / p90", f"{f.minutes(r['mttr_median_minutes'])} / {f.minutes(r['mttr_p90_minutes'])}",
             f"of {f.count(r['resolved_measured'])} resolved, {f.count(r['still_open'])} still open; "
             + prev(("mttr_median_minutes", f.minutes), ("mttr_p90_minutes", f.minutes))),
        Tile("Acknowledge SLA met", f.pct(r["acknowledge_sla_met_pct"]), prev(("acknowledge_sla_met_pct", f.pct))),
        Tile("Resolve SLA met", f.pct(r["resolve_sla_met_pct"]), prev(("resolve_sla_met_pct", f.pct))),
    ]
    body = Body(tiles=tiles)
    if r["open_incidents"]:
        body.charts.append(hbars("Open incidents by priority", ["open now"],
                                 [Series(p, c, [number(r[f"open_{p}"])]) for p, c in PRIORITY_COLOURS.items()],
                                 f.count, stacked=True, label_width=80))
    return body


WITHIN_7D = "resolved within 7 days, % (right axis)"
TREND_NOTE = ("The line is the share of each month's (week's) incidents resolved within 7 days of creation, "
              "counting those still open as not resolved; an incident counts once its first 7 days are over. "
              "MTTR (in the table) averages resolved incidents only, so a recent month looks faster while its "
              "slow incidents are still open: read it beside the open share.")


def trends(report: ReportData, s: SectionResult) -> Body:
    months = [r for r in s.records if r["grain"] == "month"]
    weeks = [r for r in s.records if r["grain"] == "week"]
    body = Body(notes=[TREND_NOTE])
    line = lambda rs: Series(WITHIN_7D, INK, _vals(rs, "resolved_within_7d_pct"))  # noqa: E731
    if months:
        labels = [_month_label(r["period_start"], i) for i, r in enumerate(months)]
        body.charts.append(columns("Incidents per month by priority; resolved within 7 days", labels,
                                   _priority_series(months), f.count, line=line(months), line_fmt=_pct0,
                                   line_max=100, every=max(1, len(months) // 12)))
    if weeks:
        labels = [r["period_start"].strftime("%d %b") for r in weeks]
        stacks = [Series("critical + high", PRIORITY_COLOURS["high"], _vals(weeks, "critical_high_incidents")),
                  Series("medium + low", PRIORITY_COLOURS["low"], _vals(weeks, "other_incidents"))]
        body.charts.append(columns("Incidents per week; resolved within 7 days", labels, stacks, f.count,
                                   line=line(weeks), line_fmt=_pct0, line_max=100,
                                   every=max(1, (len(weeks) + 5) // 6)))
    body.tables.append(table(months, [
        ("month", "period_start", lambda v: v.strftime("%Y-%m")), ("total", "total_incidents", f.count),
        ("critical", "critical_incidents", f.count), ("high", "high_incidents", f.count),
        ("medium", "medium_incidents", f.count), ("low", "low_incidents", f.count),
        ("within 7 d", "resolved_within_7d_pct", f.pct), ("open", "open_pct", f.pct),
        ("MTTR (resolved)", "mttr_minutes", f.minutes), ("median", "median_minutes_to_resolve", f.minutes),
        ("resolve SLA", "resolve_sla_met_pct", f.pct)], "Monthly, by month of creation",
        brief=("month", "total", "critical", "high", "within 7 d", "open", "MTTR (resolved)", "resolve SLA")))
    return body


def _month_label(day: Any, i: int) -> str:
    """The month, and under the first column and each January the year: three letters fit a column."""
    return day.strftime("%b\n%Y") if i == 0 or day.month == 1 else day.strftime("%b")


def _pct0(value: float) -> str:
    return f"{value:.0f}%"


def _tick(value: float) -> str:
    """An axis tick of a plain number: 0, 2.5, 1,000."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def sla_by_priority(report: ReportData, s: SectionResult) -> Body:
    rs = s.records
    milestones = (("acknowledge", SERIES[0]), ("first_response", SERIES[1]), ("resolve", SERIES[2]))
    chart = hbars("SLA met % by priority", [r["priority"] for r in rs],
                  [Series(m.replace("_", " "), c, _vals(rs, f"{m}_sla_met_pct")) for m, c in milestones],
                  f.pct, tick_fmt=_pct0, maximum=100, label_width=70)
    return Body(charts=[chart], tables=[table(rs, [
        ("priority", "priority", f.text), ("incidents", "incidents", f.count),
        ("ack target", "acknowledge_target_minutes", f.minutes),
        ("ack measured", "acknowledge_sla_measured", f.count), ("ack met", "acknowledge_sla_met_pct", f.pct),
        ("1st resp target", "first_response_target_minutes", f.minutes),
        ("1st resp met", "first_response_sla_met_pct", f.pct),
        ("resolve target", "resolve_target_minutes", f.minutes),
        ("resolve measured", "resolve_sla_measured", f.count), ("resolve met", "resolve_sla_met_pct", f.pct)],
        brief=("priority", "incidents", "ack target", "ack met", "1st resp met", "resolve target", "resolve met"))])


def durations(report: ReportData, s: SectionResult) -> Body:
    body = Body()
    for metric in ("acknowledge", "resolve"):
        rs = [r for r in s.records if r["metric"] == metric]
        if not rs:
            continue
        unit = duration_unit(max(float(r[c] or 0) for r in rs for c in ("p90_minutes", "target_minutes")))
        body.charts.append(hbars(
            f"Time to {metric} by priority, {unit.suffix} (log scale), against the SLA target",
            [r["priority"] for r in rs],
            [Series("median", SERIES[0], [unit.of(r["median_minutes"]) for r in rs]),
             Series("p90", SERIES[1], [unit.of(r["p90_minutes"]) for r in rs])],
            _in_minutes(unit), tick_fmt=unit.fmt, log=True, label_width=70,
            targets=[unit.of(r["target_minutes"]) for r in rs], target_name="SLA target"))
    body.tables.append(table(s.records, [
        ("metric", "metric", f.text), ("priority", "priority", f.text),
        ("measured", "incidents_measured", f.count), ("median", "median_minutes", f.minutes),
        ("p90", "p90_minutes", f.minutes), ("mean", "avg_minutes", f.minutes),
        ("SLA target", "target_minutes", f.minutes)]))
    return body


def _in_minutes(unit: Unit) -> Fmt:
    """A bar's value label: the duration drawn in `unit`, written as it reads best (3.0 min, 4.3 h)."""
    return lambda value: f.minutes(value * unit.minutes)


def revenue_by_category(report: ReportData, s: SectionResult) -> Body:
    rs = s.records
    money = lambda v: f.money(v, report.currency)  # noqa: E731
    chart = hbars(f"Revenue impact by top-level category (whole subtree), {report.currency}",
                  [r["category_name"] for r in rs],
                  [Series("revenue impact", SERIES[0], _vals(rs, "subtree_revenue_impact"))],
                  lambda v: f.money(v), label_width=150)
    return Body(charts=[chart], tables=[table(rs, [
        ("category", "category_name", f.text), ("subcategories", "descendant_categories", f.count),
        ("incidents", "subtree_incidents", f.count), ("revenue impact", "subtree_revenue_impact", money),
        ("share", "revenue_share_pct", f.pct), ("customers affected", "subtree_customers_affected", f.count)])])


def heatmap_section(report: ReportData, s: SectionResult) -> Body:
    days: dict[int, str] = {}
    grid: dict[int, list[int]] = {}
    for r in s.records:
        days[r["day_of_week_iso"]] = r["day_name"]
        grid.setdefault(r["day_of_week_iso"], [0] * 24)[int(r["hour_of_day"])] = int(r["incidents"])
    order = sorted(days)
    rows, hours = [days[d] for d in order], [f"{h:02d}" for h in range(24)]
    values = [grid[d] for d in order]
    chart = heatmap("Incidents by weekday and hour of creation (UTC)", rows, hours, values, f.count,
                    unit="incidents")
    return Body(charts=[chart], grid=(rows, hours, values))


AGE_BUCKETS = (("under_1h", "< 1 h"), ("1h_to_4h", "1-4 h"), ("4h_to_24h", "4-24 h"), ("1d_to_3d", "1-3 d"),
               ("3d_to_7d", "3-7 d"), ("7d_to_30d", "7-30 d"), ("over_30d", "> 30 d"))
RISK_BANDS = (("breached", "breached", "#a50f15"), ("90_to_100", "90-100%", "#e6550d"),
              ("75_to_90", "75-90%", "#fd8d3c"), ("50_to_75", "50-75%", "#fdd0a2"),
              ("under_50", "< 50%", "#9ecae1"), ("no_target", "no target", "#cccccc"))
AGE_COLOURS = ("#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")


def aging_risk(report: ReportData, s: SectionResult) -> Body:
    rs = s.records
    names = [r["priority"] for r in rs]
    ages = hbars("Open incidents by age", names, [Series(label, AGE_COLOURS[i], _vals(rs, f"age_{key}"))
                                                  for i, (key, label) in enumerate(AGE_BUCKETS)],
                 f.count, stacked=True, label_width=70)
    risk = hbars("Open incidents by share of the pending SLA target elapsed", names,
                 [Series(label, colour, _vals(rs, f"risk_{key}")) for key, label, colour in RISK_BANDS],
                 f.count, stacked=True, label_width=70)
    return Body(charts=[ages, risk], tables=[table(rs, [
        ("priority", "priority", f.text), ("open", "open_incidents", f.count),
        ("median age", "median_age_minutes", f.minutes), ("oldest", "oldest_age_minutes", f.minutes),
        ("unassigned", "unassigned_open_incidents", f.count), ("SLA breached", "risk_breached", f.count),
        ("90-100%", "risk_90_to_100", f.count), ("75-90%", "risk_75_to_90", f.count)])])


def teams(report: ReportData, s: SectionResult) -> Body:
    rs = s.records
    names = [r["team"] for r in rs]
    unit = duration_unit(max((float(r[c] or 0) for r in rs for c in ("mttr_minutes", "median_minutes_to_resolve")),
                             default=0))
    return Body(charts=[
        hbars(f"Time to resolve by team, {unit.suffix} (mean and median)", names,
              [Series("mean", SERIES[0], [unit.of(r["mttr_minutes"]) for r in rs]),
               Series("median", SERIES[2], [unit.of(r["median_minutes_to_resolve"]) for r in rs])],
              _in_minutes(unit), tick_fmt=unit.fmt, label_width=130),
        hbars("Resolution rate by team", names,
              [Series("resolved %", SERIES[2], _vals(rs, "resolution_rate_percentage"))], f.pct, tick_fmt=_pct0,
              maximum=100, label_width=130),
    ], tables=[table(rs, [
        ("team", "team", f.text), ("incidents", "total_assigned_incidents", f.count),
        ("open", "open_incidents", f.count),
        ("resolved", "resolution_rate_percentage", f.pct), ("MTTR", "mttr_minutes", f.minutes),
        ("SLA met", "resolve_sla_met_pct", f.pct), ("open/member", "avg_open_per_member", f.number),
        ("max open", "max_open_per_member", f.count), ("reassign", "avg_reassignments", f.number),
        ("x-team", "cross_team_handoffs", f.count), ("ping-pong", "ping_pong_returns", f.count)],
        brief=("team", "incidents", "open", "resolved", "MTTR", "SLA met", "open/member", "reassign"))])


# PagerDuty's colour signifiers for its interruption bands: yellow, orange, red.
BANDS = (("business_hours", "business hours", "#e8c547"), ("off_hours", "off hours", "#ee8833"),
         ("sleep_hours", "sleep hours", "#a50f15"))
ONCALL_NOTE = ("Each assignment of an incident pages its new assignee: an interruption, placed by the "
               "responder's local time (users.timezone) in PagerDuty's bands - business hours 08:00-18:00 "
               "Monday to Friday, sleep hours 22:00-08:00 any day, off hours the rest (evenings and weekends).")


def oncall_load(report: ReportData, s: SectionResult) -> Body:
    rs = s.records
    names = [f"{r['full_name']}" for r in rs]
    shown = f"the {len(rs)} of {rs[0]['responders']} responders paged" if rs[0]["responders"] > len(rs) else ""
    chart = hbars("Interruptions per responder by band of local time", names,
                  [Series(label, colour, _vals(rs, key)) for key, label, colour in BANDS], f.count, stacked=True,
                  label_width=130)
    notes = [ONCALL_NOTE + (f" Most sleep hours lost first; {shown}." if shown else "")]
    return Body(charts=[chart], notes=notes, tables=[table(rs, [
        ("responder", "full_name", f.text), ("team", "team", f.text), ("time zone", "timezone", f.text),
        ("business", "business_hours", f.count), ("off hours", "off_hours", f.count),
        ("sleep", "sleep_hours", f.count), ("total", "interruptions", f.count),
        ("outside business", "outside_business_hours_pct", f.pct), ("incidents", "incidents", f.count)],
        brief=("responder", "team", "business", "off hours", "sleep", "total", "outside business"))])


def alert_noise(report: ReportData, s: SectionResult) -> Body:
    rs = s.records
    chart = hbars("Alerts received per incident, by source system", [r["source_system"] for r in rs],
                  [Series("alerts per incident", SERIES[3], _vals(rs, "alerts_per_incident"))], f.number,
                  tick_fmt=_tick, label_width=130)
    return Body(charts=[chart], tables=[table(rs, [
        ("source system", "source_system", f.text), ("incidents", "incidents", f.count),
        ("alerts", "alerts", f.count), ("alerts/incident", "alerts_per_incident", f.number),
        ("distinct firing", "firing_notifications", f.count),
        ("firing/incident", "firing_notifications_per_incident", f.number),
        ("resolved unacked", "resolved_unacknowledged", f.count),
        ("unacked %", "resolved_unacknowledged_pct", f.pct)],
        caption="Resolved unacked: the alert cleared and the incident was resolved before anyone acknowledged it")])


def alert_grouping(report: ReportData, s: SectionResult) -> Body:
    rs = s.records
    chart = hbars("Incidents one per alert episode (before) and grouped (after), by source system",
                  [r["source_system"] for r in rs],
                  [Series("alert episodes (before)", SERIES[4], _vals(rs, "alert_episodes")),
                   Series("incidents (after)", SERIES[0], _vals(rs, "incidents"))], f.count, tick_fmt=_tick,
                  label_width=130)
    return Body(charts=[chart], tables=[table(rs, [
        ("source system", "source_system", f.text), ("alert episodes", "alert_episodes", f.count),
        ("incidents", "incidents", f.count), ("grouped", "grouped_episodes", f.count),
        ("alerts/incident", "alerts_per_incident", f.number), ("noise reduction", "noise_reduction_pct", f.pct),
        ("largest group", "largest_group", f.count)],
        caption="Grouped: alert episodes that joined the incident of their group (config/ingest.yml grouping) "
                "instead of opening their own")])


CLUSTER_NOTE = ("A cluster is a run of incidents of one service (the first affected service, else the source "
                "system) that overlap in time; its first incident leads it, and a later one of the leader's "
                "category is a likely duplicate. Folded: incidents after the first of their cluster, per 100 "
                "incidents created in the period - what grouping would have saved the responders.")


def clusters(report: ReportData, s: SectionResult) -> Body:
    rs = s.records
    top = rs[0]
    folded = int(top["period_clustered_incidents"]) - int(top["period_clusters"])
    tiles = [Tile("Clusters", f.count(top["period_clusters"]), f"{f.count(top['period_clustered_incidents'])} "
                  "incidents in them"),
             Tile("Folded incidents", f.count(folded), f"{f.pct(top['period_noise_pct'])} of the "
                  f"{f.count(top['period_incidents'])} incidents of the period", "amber" if folded else ""),
             Tile("Likely duplicates", f.count(top["period_likely_duplicates"]), "same category as the leader")]
    chart = hbars("Incidents per cluster (named by its leader): the leader, its likely duplicates and the others",
                  [r["leader_number"] for r in rs],
                  [Series("leader", SERIES[0], [1.0] * len(rs)),
                   Series("likely duplicates", SERIES[3], _vals(rs, "likely_duplicates")),
                   Series("others", SERIES[4], _vals(rs, "other_incidents"))], f.count, tick_fmt=_tick,
                  stacked=True, label_width=130)
    return Body(tiles=tiles, charts=[chart], notes=[CLUSTER_NOTE], tables=[table(rs, [
        ("cluster", "cluster_id", f.text), ("service", "service", f.text), ("size", "cluster_size", f.count),
        ("first", "cluster_first_at", f.when), ("last", "cluster_last_at", f.when),
        ("span", "cluster_minutes", f.minutes), ("category", "leader_category_name", f.text),
        ("likely duplicates", "duplicate_numbers", f.text)],
        caption="The largest clusters that began in the period; first: earliest start, last: latest end (UTC)",
        brief=("cluster", "size", "first", "likely duplicates"))])


def escalation_reopen(report: ReportData, s: SectionResult) -> Body:
    rs = s.records
    chart = hbars("Escalation and reopen rate by priority", [r["priority"] for r in rs],
                  [Series("escalated %", SERIES[3], _vals(rs, "escalation_rate_pct")),
                   Series("reopened %", SERIES[4], _vals(rs, "reopen_rate_pct"))], f.pct, tick_fmt=_pct0,
                  label_width=70)
    return Body(charts=[chart], tables=[table(rs, [
        ("priority", "priority", f.text), ("incidents", "total_incidents", f.count),
        ("escalated", "escalated_incidents", f.count), ("rate", "escalation_rate_pct", f.pct),
        ("L1", "level_1_incidents", f.count), ("L2", "level_2_incidents", f.count),
        ("L3", "level_3_incidents", f.count),
        ("ever resolved", "ever_resolved_incidents", f.count), ("reopened", "reopened_incidents", f.count),
        ("reopen rate", "reopen_rate_pct", f.pct)])])


def peak_event(report: ReportData, s: SectionResult) -> Body:
    compared = [r for r in s.records if r["coverage"] == "complete"]
    money = lambda v: f.money(v, report.currency)  # noqa: E731
    body = Body()
    if compared:
        body.charts.append(hbars("Incidents per day: Black Friday to Cyber Monday vs the 28-day baseline",
                                 [str(r["year"]) for r in compared],
                                 [Series("peak per day", SERIES[1], _vals(compared, "peak_incidents_per_day")),
                                  Series("baseline per day", SERIES[0], _vals(compared, "baseline_incidents_per_day"))],
                                 f.number, tick_fmt=_tick, label_width=50))
    left_out = [r for r in s.records if r["coverage"] != "complete"]
    if left_out:
        why = {"no data": "no incidents in its windows", "partial": "its windows are only partly in the data"}
        body.notes.append("Not compared: " + "; ".join(f"{r['year']} ({why[r['coverage']]})" for r in left_out)
                          + ".")
    cols: list[Col] = [
        ("year", "year", f.text), ("Black Friday", "black_friday", f.when), ("data", "coverage", f.text),
        ("peak", "peak_incidents", f.count), ("per day", "peak_incidents_per_day", f.number),
        ("baseline/day", "baseline_incidents_per_day", f.number), ("ratio", "peak_to_baseline_ratio", f.ratio),
        ("peak MTTR", "peak_mttr_minutes", f.minutes), ("base MTTR", "baseline_mttr_minutes", f.minutes),
        ("peak revenue", "peak_revenue_impact", money)]
    shown = [{**r, **({c: None for _, c, _ in cols[3:]} if r["coverage"] == "no data" else {})} for r in s.records]
    body.tables.append(table(shown, cols, brief=("year", "Black Friday", "data", "peak", "per day", "baseline/day",
                                                 "ratio", "peak MTTR", "base MTTR")))
    return body


def solutions(report: ReportData, s: SectionResult) -> Body:
    rs = s.records
    chart = hbars("Success rate of the most applied solution templates", [r["title"] for r in rs],
                  [Series("success %", SERIES[2], _vals(rs, "success_rate_pct"))], f.pct, tick_fmt=_pct0,
                  maximum=100, label_width=170)
    return Body(charts=[chart], tables=[table(rs, [
        ("code", "solution_code", f.text), ("title", "title", f.text), ("applied", "times_applied", f.count),
        ("success", "success_rate_pct", f.pct), ("rating", "avg_effectiveness_rating", f.number),
        ("to apply", "avg_time_to_apply_minutes", f.minutes),
        ("MTTR when applied", "avg_minutes_to_resolve_when_applied", f.minutes)],
        brief=("code", "title", "applied", "success", "rating", "to apply"))])


# The parts of the business impact score (v_incident_overview), in the order they add up.
SCORE_PARTS = (("score_priority_points", "priority", "#a50f15"),
               ("score_impact_level_points", "impact level", "#e6550d"),
               ("score_severity_points", "severity", "#fdae6b"),
               ("score_customers_points", "customers", "#3366aa"),
               ("score_revenue_points", "revenue", "#55aa55"))
IMPACT_NOTE = ("Score = points for priority + impact level + severity + customers affected + revenue impact "
               "(impact_score_weights; customers and revenue earn full points at their saturation value). "
               "Equal scores are ranked by revenue, then customers affected, then duration.")


def high_impact(report: ReportData, s: SectionResult) -> Body:
    rs = s.records
    money = lambda v: f.money(v, report.currency)  # noqa: E731
    chart = hbars("Business impact score and its parts", [r["incident_number"] for r in rs],
                  [Series(label, colour, _vals(rs, key)) for key, label, colour in SCORE_PARTS], f.number,
                  tick_fmt=_tick, stacked=True, label_width=130, maximum=100)
    return Body(charts=[chart], notes=[IMPACT_NOTE], tables=[table(rs, [
        ("rank", "period_rank", f.count), ("incident", "incident_number", f.text), ("title", "title", f.text),
        ("priority", "priority", f.text), ("status", "status", f.text), ("score", "business_impact_score", f.number),
        ("prio", "score_priority_points", f.number), ("impact", "score_impact_level_points", f.number),
        ("sev", "score_severity_points", f.number), ("cust", "score_customers_points", f.number),
        ("rev", "score_revenue_points", f.number),
        ("revenue", "revenue_impact", money), ("customers", "customers_affected", f.count),
        ("duration", "duration_minutes", f.minutes), ("created", "created_at", f.when)],
        caption="Score parts: prio + impact + sev + cust + rev = score",
        brief=("rank", "incident", "title", "score", "revenue", "customers", "duration"))])


RISK_NOTE = ("Estimates come from incident_predictions and volume_forecast (`incidents predict score`): the SQL "
             "baseline always, the model where config/predict.yml turns it on. Breach risk is 1 once the resolve "
             "target has passed; the estimate is the P50 of the hours to resolve, with its P10-P90 interval.")


def risk_planning(report: ReportData, s: SectionResult) -> Body:
    parts: dict[str, list[dict[str, Any]]] = {}
    for r in s.records:
        parts.setdefault(r["part"], []).append(r)
    money = lambda v: f.money(v, report.currency)  # noqa: E731
    hours = lambda v: "" if v is None else f"{f.number(v)} h"  # noqa: E731
    body = Body(notes=[RISK_NOTE])
    if parts.get("forecast"):
        weeks = parts["forecast"]
        body.charts.append(columns("Incidents per week, next 12 weeks (forecast; line: P90 of its interval)",
                                   [str(r["label"])[5:] for r in weeks],
                                   [Series("forecast", SERIES[0], _vals(weeks, "estimate"))], f.number,
                                   line=Series("P90", SERIES[3], _vals(weeks, "estimate_high")), line_fmt=f.number))
    tables = (
        ("risk", "Open incidents with the most revenue at risk", [
            ("#", "position", f.count), ("incident", "label", f.text), ("what", "detail", f.text),
            ("breach risk", "breach_risk", f.number), ("revenue at risk", "expected_revenue_at_risk", money),
            ("estimate", "estimate", hours), ("P10", "estimate_low", hours), ("P90", "estimate_high", hours)]),
        ("forecast", "Forecast weeks", [
            ("week", "label", f.text), ("model", "detail", f.text), ("forecast", "estimate", f.number),
            ("low", "estimate_low", f.number), ("high", "estimate_high", f.number),
            ("baseline", "baseline_forecast_incidents", f.number), ("a year earlier", "incidents_52_weeks_earlier",
                                                                     f.count)]),
        ("capacity", "Team capacity: open load against throughput and the forecast", [
            ("team", "label", f.text), ("open", "open_incidents", f.count),
            ("resolved/week", "resolved_per_week", f.number), ("next 4 weeks", "forecast_next_4_weeks", f.number),
            ("load vs throughput", "load_vs_throughput_pct", f.pct)]),
        ("sla_tuning", "Resolve targets met least often, and the target 90% would have met", [
            ("category / priority", "label", f.text), ("target", "current_target_minutes", f.minutes),
            ("met", "current_met_pct", f.pct), ("90% met by", "target_met_by_90_pct", f.minutes)]),
        ("training", "Categories with training signals", [
            ("category", "label", f.text), ("signals", "detail", f.text),
            ("solutions worked", "solution_success_pct", f.pct), ("reassignments", "avg_reassignments", f.number),
            ("ping-pong", "ping_pong_pct", f.pct)]),
        ("cost", "Cost of incidents by month (responder hours x rate, plus revenue impact)", [
            ("month", "label", f.text), ("labour", "labour_cost", money), ("revenue impact", "revenue_impact", money),
            ("total", "total_cost", money)]),
    )
    for part, caption, cols in tables:
        if parts.get(part):
            body.tables.append(table(parts[part], cols, caption=caption))
    return body


def data_quality(report: ReportData, s: SectionResult) -> Body:
    checks = s.records
    failed = [r for r in checks if not r["passed"]]
    tiles = [Tile("Checks passed", f"{len(checks) - len(failed)} of {len(checks)}", "latest `incidents check` run",
                  "red" if failed else "green"),
             Tile("Rows failing", f.count(sum(r["failures"] for r in failed)),
                  f"in {len(failed)} failed check(s)" if failed else "", "red" if failed else ""),
             Tile("Checked at", f.when(checks[0]["checked_at"]), "UTC; the report shows that run, not live data")]
    tables = [table(failed, [("check", "check_name", f.text), ("table", "table_name", f.text),
                             ("column", "column_name", f.text), ("rows failing", "failures", f.count)],
                    caption="Failed checks; their sample rows are in v_data_quality_issues")] if failed else []
    return Body(tiles=tiles, tables=tables)


LAYOUTS: dict[str, Callable[[ReportData, SectionResult], Body]] = {
    "headline": headline, "trends": trends, "sla_by_priority": sla_by_priority, "durations": durations,
    "revenue_by_category": revenue_by_category, "heatmap": heatmap_section, "aging_risk": aging_risk,
    "teams": teams, "oncall_load": oncall_load, "alert_noise": alert_noise, "alert_grouping": alert_grouping,
    "clusters": clusters,
    "escalation_reopen": escalation_reopen,
    "peak_event": peak_event, "solutions": solutions, "high_impact": high_impact, "risk_planning": risk_planning,
    "data_quality": data_quality,
}


def body(report: ReportData, s: SectionResult) -> Body:
    """What the section shows; an empty section shows nothing but its message."""
    if s.empty:
        return Body()
    return LAYOUTS[s.key](report, s)


def scope_text(report: ReportData, s: SectionResult) -> str:
    p, prev = report.period, report.period.previous
    span = lambda a, b: a.isoformat() if a == b else f"{a.isoformat()} to {b.isoformat()}"  # noqa: E731
    return {
        "period": f"{s.section.counts} {span(p.start, p.end)} ({p.days} days)"
                  + (f"; previous period {span(prev.start, prev.end)}" if s.key == "headline" else ""),
        "trend": f"months from {report.trend.months_from:%Y-%m}, weeks from {report.trend.weeks_from}, to {p.end}",
        "all_time": "all incidents in the warehouse",
        "now": f"now ({report.generated_at:%Y-%m-%d %H:%M} UTC)",
    }[s.section.scope] + ("; open incidents, revenue at risk and health: now" if s.key == "headline" else "")


