"""`incidents report`: generated from a seeded local target, its figures (the JSON island) equal
direct queries of the views; empty warehouse, single day and bad input; and the HTML in a real
headless Chromium (no console errors, no network, every chart drawn)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import markupsafe
import pytest
from typer.testing import CliRunner

import incidents
from incidents.cli import app
from incidents.project.config import load_project
from incidents.report import SECTIONS, ReportResult

REPO = Path(__file__).resolve().parents[1]
END = dt.date(2026, 6, 30)  # the seeded history ends here: the default period ends on its last day
SEEDED = 400
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def seeded(deployed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(project dir, local dir): the repository's project deployed and seeded with SEEDED incidents."""
    root = tmp_path_factory.mktemp("report")
    local = root / "local"
    shutil.copytree(deployed_template, local)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INCIDENTS_LOCAL_DIR", str(local))
        with incidents.Workspace.open(REPO) as ws:
            ws.seed(incidents=SEEDED, end=END)
            ws.predict("score")  # the SQL baseline's estimates and forecast: the "Risk and planning" section
        yield REPO, local


@pytest.fixture
def on_seeded(seeded: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INCIDENTS_LOCAL_DIR", str(seeded[1]))
    monkeypatch.delenv("INCIDENTS_ENV", raising=False)
    return seeded[0]


@pytest.fixture(scope="module")
def report(seeded: tuple[Path, Path]) -> ReportResult:
    """The default report of the seeded target (Python API; the CLI tests below write their own)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INCIDENTS_LOCAL_DIR", str(seeded[1]))
        with incidents.Workspace.open(seeded[0]) as ws:
            return ws.report()


@pytest.fixture(scope="module")
def report_html(report: ReportResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report-html") / "report.html"
    report.write(out, "html")
    return out


def island(path_or_text: Path | str) -> dict[str, Any]:
    text = path_or_text.read_text(encoding="utf-8") if isinstance(path_or_text, Path) else path_or_text
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.DOTALL)
    assert match, "no JSON island"
    return json.loads(match.group(1), parse_float=decimal.Decimal)


def records(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    [section] = [s for s in data["sections"] if s["key"] == key]
    return [dict(zip(section["columns"], row, strict=True)) for row in section["rows"]]


def query(sql: str) -> list[dict[str, Any]]:
    """Rows of a direct view query, keys lower case, dates as the island writes them."""
    with incidents.Workspace.open(REPO) as ws:
        rows = ws.query(sql)
    return [{k.lower(): (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in r.items()}
            for r in rows]


def plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Numbers compared by value (the island writes NUMBER digits exactly; ints stay ints)."""
    return [{k: (decimal.Decimal(str(v)) if isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool)
                 else v) for k, v in r.items()} for r in rows]


# --------------------------------------------------------------------------- figures = views

def test_every_section_is_titled_with_its_view_and_definition(report_html: Path) -> None:
    text = report_html.read_text(encoding="utf-8")
    comments = {v.name: str(v.comment) for v in load_project(REPO).views}
    data = island(text)
    assert [s["key"] for s in data["sections"]] == [s.key for s in SECTIONS] and len(SECTIONS) == 18
    for section in data["sections"]:
        for view in section["views"]:
            assert view["definition"] == comments[view["name"]]
            shown = re.sub(r"`([^`]+)`", r"<code>\1</code>", str(markupsafe.escape(comments[view["name"]])))
            assert f"<code>{view['name']}</code>: {shown}" in text, view["name"]
        # seeded data is clean, and seed lands no alerts
        assert not section["empty"] or section["key"] in ("data_quality", "alert_noise"), section["key"]


def test_risk_and_planning_shows_the_scored_estimates_and_the_forecast(report_html: Path) -> None:
    rows = records(island(report_html), "risk_planning")
    parts = {p: [r for r in rows if r["part"] == p] for p in ("risk", "forecast", "capacity", "cost")}
    assert [r["position"] for r in parts["forecast"]] == list(range(1, 13))
    assert parts["risk"] and all(r["estimate_low"] <= r["estimate"] <= r["estimate_high"] for r in parts["risk"])
    assert parts["capacity"] and parts["cost"]
    text = report_html.read_text(encoding="utf-8")
    assert "Open incidents with the most revenue at risk" in text and "Incidents per week, next 12 weeks" in text


def test_headline_equals_the_views(report_html: Path, on_seeded: Path) -> None:
    data = island(report_html)
    period = data["period"]
    assert (period["to"], period["days"]) == (END.isoformat(), 28)
    [head] = records(data, "headline")
    [health] = query("SELECT open_incidents, open_revenue_at_risk FROM v_system_health_overview")
    aging = {r["priority"]: r["open_incidents"]
             for r in query("SELECT priority, open_incidents FROM v_open_incident_aging")}
    assert head["open_incidents"] == health["open_incidents"] == sum(aging.values()) > 0
    assert [head[f"open_{p}"] for p in ("critical", "high", "medium", "low")] == \
        [aging[p] for p in ("critical", "high", "medium", "low")]
    assert decimal.Decimal(str(head["revenue_at_risk"])) == health["open_revenue_at_risk"]
    for prefix, window in (("", period), ("prev_", period["previous"])):
        [direct] = query(
            "SELECT COUNT(*) AS n, ROUND(MEDIAN(minutes_to_resolve), 2) AS mttr, "
            "ROUND(PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY minutes_to_acknowledge), 2) AS mtta_p90 "
            f"FROM v_incident_overview WHERE created_at >= '{window['from']}'::DATE "
            f"AND created_at < DATEADD('day', 1, '{window['to']}'::DATE)")
        assert head[f"{prefix}incidents"] == direct["n"] > 0
        assert plain([{"a": head[f"{prefix}mttr_median_minutes"], "b": head[f"{prefix}mtta_p90_minutes"]}]) == \
            plain([{"a": direct["mttr"], "b": direct["mtta_p90"]}])


def test_sections_equal_direct_view_queries(report_html: Path, on_seeded: Path) -> None:
    data = island(report_html)
    assert plain(records(data, "heatmap")) == plain(query(
        "SELECT day_of_week_iso, day_name, hour_of_day, incidents, critical_high_incidents FROM v_incident_heatmap "
        "ORDER BY 1, 3"))
    durations = records(data, "durations")
    direct = query("SELECT metric, priority, incidents_measured, median_minutes, p90_minutes, avg_minutes, "
                   "target_minutes FROM v_duration_distribution WHERE metric IN ('acknowledge', 'resolve')")
    key = lambda r: (r["metric"], r["priority"])  # noqa: E731
    assert sorted(plain(durations), key=key) == sorted(plain(direct), key=key)
    revenue = records(data, "revenue_by_category")
    direct = query("SELECT category_name, subtree_revenue_impact, subtree_customers_affected FROM v_category_rollup "
                   "WHERE depth = 0 ORDER BY subtree_revenue_impact DESC, category_name")
    assert plain([{k: r[k] for k in direct[0]} for r in revenue]) == plain(direct)
    months = records(data, "trends")
    direct = query(f"SELECT month, total_incidents, critical_incidents, mttr_minutes FROM v_monthly_incident_trends "
                   f"WHERE month >= '{data['trend']['months_from']}'::DATE ORDER BY month")
    assert plain([{"month": r["period_start"], **{k: r[k] for k in ("total_incidents", "critical_incidents",
                                                                  "mttr_minutes")}}
                  for r in months if r["grain"] == "month"]) == plain(direct)
    assert len(direct) == 12
    peak = [{k: v for k, v in r.items() if k != "coverage"} for r in records(data, "peak_event")]
    assert plain(peak) == plain(query("SELECT * FROM v_peak_event_comparison ORDER BY year"))
    solutions = [r["solution_code"] for r in records(data, "solutions")]
    assert solutions == [r["solution_code"] for r in query(
        "SELECT solution_code FROM v_solution_effectiveness WHERE times_applied > 0 "
        "ORDER BY times_applied DESC, solution_code LIMIT 12")]
    top = records(data, "high_impact")
    assert [r["incident_number"] for r in top] == [r["incident_number"] for r in query(
        f"SELECT incident_number FROM v_high_impact_incidents WHERE created_at >= '{data['period']['from']}'::DATE "
        "AND created_at < '2026-07-01'::DATE ORDER BY business_impact_score DESC, incident_number LIMIT 10")]
    teams = {r["team"]: r for r in records(data, "teams")}
    for row in query("SELECT team, total_assigned_incidents, mttr_minutes FROM v_team_performance"):
        assert plain([{k: teams[row["team"]][k] for k in row}]) == plain([row])


@pytest.mark.slow
def test_whole_history_sla_by_priority_adds_up_to_v_sla_performance(on_seeded: Path) -> None:
    with incidents.Workspace.open(on_seeded) as ws:
        report = ws.report(start="2000-01-01", end=END)
    sla = report.section("sla_by_priority").records
    [direct] = query("SELECT SUM(total_incidents) AS incidents, SUM(acknowledge_sla_measured) AS ack, "
                     "SUM(resolve_sla_measured) AS res, SUM(resolve_sla_breached) AS breached FROM v_sla_performance")
    assert sum(r["incidents"] for r in sla) == direct["incidents"] == SEEDED
    assert sum(r["acknowledge_sla_measured"] for r in sla) == direct["ack"]
    assert sum(r["resolve_sla_measured"] for r in sla) == direct["res"]
    assert report.period.days > 9000 and report.section("headline").records[0]["prev_incidents"] == 0


# --------------------------------------------------------------------------- the file

def test_html_is_one_self_contained_printable_file(report_html: Path) -> None:
    text = report_html.read_text(encoding="utf-8")
    assert report_html.stat().st_size < 3_000_000
    assert "default-src 'none'" in text and "@media print" in text
    assert not re.search(r"<script(?![^>]*application/json)", text), "a script that runs"
    assert not re.search(r"<link|@import|url\(|\bsrc=|https?://", text), "a reference to something outside the file"
    assert text.count("<svg") >= 12


def test_text_report_fits_100_columns_with_the_headline(report: ReportResult) -> None:
    text = report.to_text()
    assert max(len(line) for line in text.splitlines()) <= 100
    head = report.section("headline").records[0]
    assert re.search(rf"^Open incidents +{int(head['open_incidents']):,} ", text, re.MULTILINE)
    assert re.search(rf"^Incidents in period +{head['incidents']:,} +previous {head['prev_incidents']:,}", text,
                     re.MULTILINE)
    for n, section in enumerate(SECTIONS, start=1):
        assert f"{n}. {section.heading}" in text
    assert "Platform SRE" in text and "RUNBOOK." in text  # key tables: teams, solutions


@pytest.mark.slow
def test_text_report_cli_prints_to_stdout(on_seeded: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", "--format", "text", "--to", END.isoformat(), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Incident report") and result.stderr == ""
    assert max(len(line) for line in result.stdout.splitlines()) <= 100


def test_single_day_renders(on_seeded: Path, runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "day.html"
    day = runner.invoke(app, ["report", "--from", "2026-06-15", "--to", "2026-06-15", "-o", str(out)])
    assert day.exit_code == 0, day.output
    assert f"wrote {out}" in day.stderr.replace("\n", "") and " 1/19 bounds" in day.stderr  # progress on stderr
    data = island(out)
    assert (data["period"]["days"], data["period"]["previous"]["from"]) == (1, "2026-06-14")
    [direct] = query("SELECT COUNT(*) AS n FROM v_incident_overview WHERE created_at::DATE = '2026-06-15'::DATE")
    assert records(data, "headline")[0]["incidents"] == direct["n"]


@pytest.mark.slow
def test_empty_period_renders(on_seeded: Path, runner: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    none = runner.invoke(app, ["report", "--from", "1990-01-01", "--to", "1990-01-31", "-o", str(empty)])
    assert none.exit_code == 0, none.output
    data = island(empty)
    assert records(data, "headline")[0]["incidents"] == 0
    period_sections = [s["empty"] for s in data["sections"] if s["scope"] == "period" and s["key"] != "headline"]
    assert period_sections == [True] * 5  # SLA by priority, on-call load, alert noise, clusters, top incidents
    assert "No incidents created in the period." in empty.read_text(encoding="utf-8")
    assert "No two incidents of one service overlapped in time in the period." in empty.read_text(encoding="utf-8")


def test_empty_warehouse_renders_no_data(project_copy: Path, deployed_local: Path) -> None:
    with incidents.Workspace.open(project_copy) as ws:
        result = ws.report()
    text = result.to_html()
    assert "The warehouse holds no incidents yet" in text
    data = island(text)
    assert data["incidents"] == 0 and data["period"]["days"] == 28
    assert all(s["empty"] for s in data["sections"] if s["key"] != "headline")
    assert "<svg" not in text and "No incidents created in the period." in text
    as_text = result.to_text()
    assert "holds no incidents yet" in as_text
    assert "No `incidents check` run is recorded yet, so the data has not been checked" in as_text
    assert re.search(r"^MTTR median / p90 +\u2013 / \u2013 ", as_text, re.MULTILINE)


@pytest.mark.slow  # one of the default suite's heaviest (issue 26: under 3 minutes on 2 cores)
def test_data_quality_tells_never_checked_from_clean_from_failing(project_copy: Path, deployed_local: Path,
                                                                  runner: CliRunner) -> None:
    args = ["--project-dir", str(project_copy)]

    def section() -> tuple[bool, str]:
        with incidents.Workspace.open(project_copy) as ws:
            result = ws.report()
        text = result.to_text()
        return result.section("data_quality").empty, text[text.index("Data quality"):]

    empty, text = section()
    assert empty and "has not been checked: run `incidents check`" in text
    assert runner.invoke(app, ["check", *args]).exit_code == 0
    empty, text = section()
    found = re.search(r"Checks passed +(\d+) of (\d+)", text)
    assert not empty and found and found.group(1) == found.group(2), text
    declared = int(found.group(2))
    bad = ("INSERT INTO sla_policies (priority, acknowledge_minutes, first_response_minutes, resolve_minutes) "
           "VALUES ('bad1', 1, 2, 3), ('bad2', 1, 2, 3)")
    assert runner.invoke(app, ["query", bad, *args]).exit_code == 0
    assert runner.invoke(app, ["check", *args]).exit_code == 1
    empty, text = section()
    assert re.search(rf"Checks passed +{declared - 1} of {declared}", text), text
    assert re.search(r"Rows failing +2\b", text), text
    assert re.search(r"invalid_value +sla_policies +priority +2", text), text


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2026-13-01"], "--from: expected a date as YYYY-MM-DD, got '2026-13-01'"),
    (["--to", "yesterday"], "--to: expected a date as YYYY-MM-DD, got 'yesterday'"),
    (["--from", "2026-06-02", "--to", "2026-06-01"], "--from 2026-06-02 is after --to 2026-06-01"),
    (["--from", "0001-01-01", "--to", "2026-06-01"], "--from: expected a date from 1900 to 9000, got 0001-01-01"),
])
def test_bad_dates_are_one_line_exit_2(args: list[str], message: str, project_copy: Path, local_dir: Path,
                                       runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", "--project-dir", str(project_copy), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (local_dir / "INCIDENTS.db").exists()  # refused before connecting


def test_report_before_deploy_says_so(project_copy: Path, local_dir: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", "--project-dir", str(project_copy)])
    assert result.exit_code == 2, result.output
    assert "nothing deployed on the local target yet: run `incidents deploy`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not local_dir.exists()


def test_out_in_a_missing_folder_is_exit_2_before_any_query(project_copy: Path, local_dir: Path,
                                                           runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--project-dir", str(project_copy), "-o",
                                 str(tmp_path / "no" / "such" / "r.html")])
    assert result.exit_code == 2 and "cannot write the report" in result.stderr
    assert not (local_dir / "INCIDENTS.db").exists()


def test_top_clusters_of_the_period_equal_v_incident_clusters(report_html: Path, on_seeded: Path) -> None:
    data = island(report_html)
    start, end = data["period"]["from"], data["period"]["to"]
    direct = query(
        "SELECT cluster_id, MAX(cluster_size) AS size, MIN(cluster_first_at) AS first_at, "
        "LISTAGG(IFF(likely_duplicate, incident_number, NULL), ', ') WITHIN GROUP (ORDER BY started_at) AS dups "
        f"FROM v_incident_clusters WHERE cluster_first_at >= '{start}'::DATE "
        f"AND cluster_first_at < DATEADD('day', 1, '{end}'::DATE) GROUP BY cluster_id ORDER BY size DESC, first_at")
    shown = records(data, "clusters")
    assert direct, "the seeded period has a cluster"
    assert [(r["cluster_id"], r["cluster_size"], r["duplicate_numbers"] or None) for r in shown] == [
        (r["cluster_id"], r["size"], r["dups"] or None) for r in direct][:10]
    [head] = records(data, "headline")
    assert shown[0]["period_incidents"] == head["incidents"]
    assert shown[0]["period_clustered_incidents"] == sum(r["size"] for r in direct)
    text = report_html.read_text(encoding="utf-8")
    html = text[text.index('<section id="clusters">'):text.index('<section id="escalation_reopen">')]
    assert f"{shown[0]['cluster_id']}" in html and "Folded incidents" in html
    dups = [r["duplicate_numbers"] for r in shown if r["duplicate_numbers"]]
    assert not dups or dups[0] in html


# --------------------------------------------------------------------------- a real browser

@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed here (/usr/bin/chromium); "
                    ".ci/run installs it, so this runs in CI")
def test_report_in_headless_chromium(report_html: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="the `test` extra installs playwright")
    console: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning")
                    else None)
            page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report_html.as_uri(), wait_until="load")
            marks = page.eval_on_selector_all(  # marks that cover pixels, per chart
                "figure.chart svg", "svgs => svgs.map(s => Array.from(s.querySelectorAll('.mark'))"
                ".filter(m => { const b = m.getBBox(); return b.width * b.height > 0; }).length)")
            sizes = page.eval_on_selector_all("figure.chart svg", "svgs => svgs.map(s => s.getBBox().width)")
            risk_marks = page.eval_on_selector_all("#risk_planning figure.chart svg .mark", "ms => ms.length")
            clusters = page.inner_text("#clusters")
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "report-full.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"full-page screenshot: {shot}")
            if os.environ.get("INCIDENTS_UPDATE_SCREENSHOT"):  # the README's picture: the top of the page
                page.screenshot(path=str(REPO / "docs" / "report.png"), full_page=False)
            phone = _on_a_phone(browser, report_html)
        finally:
            browser.close()
    assert console == []
    assert requests == [report_html.as_uri()]
    assert len(marks) >= 12 and all(n > 0 for n in marks), marks
    assert risk_marks > 0, "the Risk and planning section draws its forecast"
    # the seeded period's cluster, as a reader sees it: its id, its likely duplicate and the noise tiles
    assert "Top clusters of the period" in clusters and "#INC-2026-" in clusters
    assert "folded incidents" in clusters.lower()
    assert all(w > 0 for w in sizes), sizes
    assert shot.stat().st_size > 50_000
    # 420 px wide: nothing scrolls the page sideways, a wide table scrolls in its own box, and every
    # text (SVG text at the scale its chart is drawn) is at least 10 px.
    assert phone["page_width"] <= 420, phone
    assert phone["tables"] and all(t["overflow"] == "auto" and t["box"] <= 420 for t in phone["tables"]), phone
    assert phone["charts"] and all(w <= 420 for w in phone["charts"]), phone
    assert phone["texts"] > 1000 and phone["smallest"] == [], phone["smallest"]


def _on_a_phone(browser: Any, report_html: Path) -> dict[str, Any]:
    page = browser.new_page(viewport={"width": 420, "height": 900})
    page.goto(report_html.as_uri(), wait_until="load")
    page.screenshot(path=str(ARTIFACTS / "report-phone.png"), full_page=True)
    return page.evaluate("""() => {
      const texts = [];
      for (const el of document.querySelectorAll('body *')) {
        if (!Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())) continue;
        let px = parseFloat(getComputedStyle(el).fontSize);
        if (el instanceof SVGElement) px *= el.ownerSVGElement.getScreenCTM().a;  // the chart's drawn scale
        texts.push([el.tagName + ' ' + el.textContent.trim().slice(0, 30), px]);
      }
      return {
        page_width: document.documentElement.scrollWidth,
        tables: Array.from(document.querySelectorAll('table')).map(t => ({
          overflow: getComputedStyle(t.parentElement).overflowX,
          box: t.parentElement.getBoundingClientRect().right})),
        charts: Array.from(document.querySelectorAll('figure.chart svg')).map(s => s.getBoundingClientRect().right),
        texts: texts.length,
        smallest: texts.filter(([, px]) => px < 10).slice(0, 10),
      };
    }""")


def test_every_report_query_parses_as_snowflake() -> None:
    import sqlglot
    from sqlglot import exp

    from incidents.project.config import environment
    from incidents.project.deployment import Deployment
    from incidents.report.period import Period, TrendWindow

    project = load_project(REPO)
    period = Period(dt.date(2026, 6, 1), END)
    dep = Deployment(project, environment(project, "prod"))
    for name in ["bounds", *(s.key for s in SECTIONS)]:
        sql = dep.render(f"report/{name}.sql.j2", period=period, previous=period.previous,
                         trend=TrendWindow.ending(period), limit=10, data_first_day=dt.date(2024, 7, 1),
                         data_last_day=END)
        [statement] = sqlglot.parse(sql, read="snowflake")
        assert statement is not None and not isinstance(statement, exp.Command), name
        assert "'2026-06-01'::DATE" in sql or name not in ("headline", "sla_by_priority", "high_impact"), name


def test_period_defaults_previous_period_and_trend_window() -> None:
    from incidents.report import resolve_period
    from incidents.report.period import TrendWindow

    period = resolve_period(None, None, dt.date(2026, 3, 31))
    assert (period.start, period.end, period.days) == (dt.date(2026, 3, 4), dt.date(2026, 3, 31), 28)
    assert (period.previous.start, period.previous.end) == (dt.date(2026, 2, 4), dt.date(2026, 3, 3))
    assert resolve_period(dt.date(2026, 5, 1), None, dt.date(2026, 3, 31)).end == dt.date(2026, 5, 1)
    trend = TrendWindow.ending(period)
    assert (trend.months_from, trend.weeks_from) == (dt.date(2025, 4, 1), dt.date(2025, 10, 6))  # 12 months, 26 weeks
    long = TrendWindow.ending(resolve_period(dt.date(2024, 1, 10), dt.date(2026, 3, 31), None))
    assert (long.months_from, long.weeks_from) == (dt.date(2024, 1, 1), dt.date(2024, 1, 8))


# --------------------------------------------------------------------------- a hand-made warehouse: exact figures
# A few incidents, assignments and alerts whose every figure is worked out by hand below: medians that
# differ from means, scores that tie at 100, responders in three time zones, a noisy alert source. The
# three incidents the alerts open (12-13 March) count in the period: none acknowledged, CheckoutDown
# resolved after 30 minutes, the two SearchSlow ones still open; their scores stay below 60.

P_FROM, P_TO = dt.date(2026, 3, 1), dt.date(2026, 3, 28)  # previous period: 2026-02-01 to 2026-02-28
EVIL_TITLE = "Checkout \x1b[2J\x1b]0;pwned\x07 down"
EVIL_NAME = "Ben \x1b[31mKolkata\x1b[0m"


def _at(month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute)


def _incident(iid: int, created: dt.datetime, *, ack: float | None = None, res: float | None = None,
              status: str = "resolved", priority: str = "low", impact: str = "none", severity: str = "SEV5",
              customers: int = 0, revenue: float = 0, assignee: int | None = 12, title: str = "") -> dict[str, Any]:
    """An incident acknowledged `ack` and resolved `res` minutes after creation."""
    after = lambda minutes: None if minutes is None else created + dt.timedelta(minutes=minutes)  # noqa: E731
    return {
        "incident_id": iid, "incident_number": f"INC-{iid}", "title": title or f"Incident {iid}", "description": None,
        "category_id": 1, "status": status, "priority": priority, "severity": severity, "impact_level": impact,
        "source": "internal", "source_system": None, "reporter_id": 2, "assignee_id": assignee,
        "assigned_team": None if assignee is None else "platform", "customers_affected": customers,
        "revenue_impact": revenue, "is_escalated": False, "escalation_level": 0, "reopen_count": 0,
        "reassignment_count": 0, "parent_incident_id": None, "detected_at": None, "created_at": created,
        "acknowledged_at": after(ack), "first_response_at": after(ack), "mitigated_at": None,
        "resolved_at": after(res), "closed_at": None, "updated_at": created, "root_cause": None,
        "root_cause_category": None, "resolution_summary": None, "resolution_code": None,
    }


def _handmade() -> Any:
    import views_dataset as vd

    data = vd.Dataset(now=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0))
    data.users += [vd._user(1, "system", None, "Monitoring Bot"), vd._user(2, "customer", None, "Carla Customer"),
                   {**vd._user(10, "engineer", "payments", "Ada NewYork"), "timezone": "America/New_York"},
                   {**vd._user(11, "engineer", "payments", EVIL_NAME), "timezone": "Asia/Kolkata"},
                   {**vd._user(12, "engineer", "platform", "Chloe Utc"), "timezone": "UTC"}]
    for cid, code in ((1, "PAYMENT"), (2, "PERFORMANCE"), (3, "SYSTEM_OUTAGE")):  # what config/ingest.yml maps to
        data.categories.append({"category_id": cid, "parent_category_id": None, "code": code, "name": code.title(),
                                "description": None, "default_priority": "medium", "is_active": True,
                                "created_at": _at(1, 1)})
    top = {"priority": "critical", "impact": "critical", "severity": "SEV1"}  # 30 + 25 + 10 points
    data.incidents += [
        # The period: MTTA 1, 2, 3, 10, 100 (median 3, mean 23.2); MTTR 10, 20, 30, 40, 1000 and the
        # alert's 30 (median 30, mean 188.3, p90 40 + 0.5 x 960 = 520).
        # 101-104 all score 100 (customers and revenue saturate): revenue, customers, duration decide.
        _incident(101, _at(3, 2), ack=1, res=10, customers=50_000, revenue=200_000, **top),
        _incident(102, _at(3, 3), ack=2, res=20, customers=20_000, revenue=200_000, **top),
        _incident(103, _at(3, 4), ack=3, res=30, customers=20_000, revenue=200_000, **top),
        _incident(104, _at(3, 5), ack=10, res=40, customers=20_000, revenue=300_000, title=EVIL_TITLE, **top),
        _incident(105, _at(3, 6), ack=100, res=1000, priority="high", impact="major", severity="SEV2"),
        _incident(106, _at(3, 20), status="investigating", priority="medium", assignee=None),
        # The previous period: MTTA 5, 6, 7, 30 (median 6.5, mean 12); MTTR 60, 70, 80, 500 (median 75).
        _incident(201, _at(2, 2), ack=5, res=60), _incident(202, _at(2, 3), ack=6, res=70),
        _incident(203, _at(2, 4), ack=7, res=80), _incident(204, _at(2, 5), ack=30, res=500),
    ]
    # Assignments (UTC) and their band in the responder's local time; New York is UTC-5 until 8 March.
    for aid, (iid, user, at) in enumerate([
        (101, 10, _at(3, 2, 14)),      # Mon 09:00 New York: business hours
        (102, 10, _at(3, 3, 3)),       # Mon 22:00 New York: sleep hours
        (103, 10, _at(3, 7, 15)),      # Sat 10:00 New York: off hours
        (104, 10, _at(3, 4, 23, 30)),  # Wed 18:30 New York: off hours
        (101, 11, _at(3, 2, 3)),       # Mon 08:30 Kolkata: business hours
        (102, 11, _at(3, 2, 17)),      # Mon 22:30 Kolkata: sleep hours
        (103, 12, _at(3, 6, 17, 59)),  # Fri 17:59 UTC: business hours
        (104, 12, _at(3, 6, 18)),      # Fri 18:00 UTC: off hours
        (105, 12, _at(3, 7, 7, 59)),   # Sat 07:59 UTC: sleep hours
        (201, 12, _at(2, 2, 3)),       # the previous period: not counted
    ], start=1):
        data.assignments.append({"assignment_id": aid, "incident_id": iid, "previous_assignee_id": None,
                                 "new_assignee_id": user, "previous_team": None, "new_team": "platform",
                                 "assigned_by": 12, "assignment_reason": None, "assigned_at": at})
    return data


def _alertmanager(status: str, labels: dict[str, str], starts: str, ends: str = "0001-01-01T00:00:00Z") -> str:
    alert = {"status": status, "labels": labels, "annotations": {"summary": labels["alertname"]}, "startsAt": starts,
             "endsAt": ends, "generatorURL": "", "fingerprint": "fp-" + "-".join(sorted(labels.values()))}
    return json.dumps({"receiver": "incidents", "status": status, "alerts": [alert], "groupLabels": {},
                       "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
                       "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0})


ALERTS = "\n".join([
    # checkout: one episode, the same firing notification three times, then its resolution: 4 alerts.
    *[_alertmanager("firing", {"alertname": "CheckoutDown", "job": "checkout", "severity": "critical"},
                    "2026-03-12T12:00:00Z")] * 3,
    _alertmanager("resolved", {"alertname": "CheckoutDown", "job": "checkout", "severity": "critical"},
                  "2026-03-12T12:00:00Z", "2026-03-12T12:30:00Z"),
    # search: three episodes (three instances), one notification each; c fires 5 minutes after b, so it joins
    # b's incident (grouping by service and alertname): 2 incidents, 3 alerts.
    _alertmanager("firing", {"alertname": "SearchSlow", "service": "search", "instance": "a", "severity": "warning"},
                  "2026-03-13T08:00:00Z"),
    _alertmanager("firing", {"alertname": "SearchSlow", "service": "search", "instance": "b", "severity": "warning"},
                  "2026-03-13T09:00:00Z"),
    _alertmanager("firing", {"alertname": "SearchSlow", "service": "search", "instance": "c", "severity": "warning"},
                  "2026-03-13T09:05:00Z"),
])


@pytest.fixture(scope="module")
def handmade(deployed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The local-target folder holding the hand-made warehouse (the repository's project deployed)."""
    import views_dataset as vd

    local = tmp_path_factory.mktemp("handmade") / "local"
    shutil.copytree(deployed_template, local)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INCIDENTS_LOCAL_DIR", str(local))
        with incidents.Workspace.open(REPO) as ws:
            vd.load(ws.session, _handmade(), ws.env.database, ws.env.schema)
            assert ws.ingest(ALERTS).opened == 3
        yield local


@pytest.fixture(scope="module")
def exact(handmade: Path) -> ReportResult:
    """The report of the hand-made warehouse for the period 2026-03-01 to 2026-03-28."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INCIDENTS_LOCAL_DIR", str(handmade))
        with incidents.Workspace.open(REPO) as ws:
            return ws.report(start=P_FROM, end=P_TO)


def test_headline_medians_and_p90s_are_exact(exact: ReportResult) -> None:
    """An oracle the mean cannot pass: PERCENTILE_CONT interpolates (p90 of 1, 2, 3, 10, 100 is
    10 + 0.6 x 90 = 64), and every median here is far from its mean."""
    [record] = records(island(exact.to_html()), "headline")
    expected = {"incidents": 9, "mtta_median_minutes": 3, "mtta_p90_minutes": 64,
                "mttr_median_minutes": 30, "mttr_p90_minutes": 520, "resolved_measured": 6, "still_open": 3,
                "prev_incidents": 4, "prev_mtta_median_minutes": 6.5, "prev_mtta_p90_minutes": 23.1,
                "prev_mttr_median_minutes": 75, "prev_mttr_p90_minutes": 374}
    assert {k: float(record[k]) for k in expected} == {k: float(v) for k, v in expected.items()}
    text = exact.to_text()
    assert re.search(r"^MTTA median / p90 +3\.0 min / 64 min +previous 6\.5 min / 23 min", text, re.MULTILINE), text
    assert re.search(r"^MTTR median / p90 +30 min / 8\.7 h +of 6 resolved, 3 still open", text, re.MULTILINE), text


def test_top_incidents_break_score_ties_and_show_the_score_parts(exact: ReportResult) -> None:
    rows = exact.section("high_impact").records
    assert [r["incident_number"] for r in rows] == ["INC-104", "INC-101", "INC-103", "INC-102"]
    assert [r["period_rank"] for r in rows] == [1, 2, 3, 4]
    assert {float(r["business_impact_score"]) for r in rows} == {100}
    for r in rows:
        parts = [r[f"score_{p}_points"] for p in ("priority", "impact_level", "severity", "customers", "revenue")]
        assert [float(p) for p in parts] == [30, 25, 10, 15, 20]
        assert round(sum(float(p) for p in parts), 2) == float(r["business_impact_score"])
    assert [float(r["duration_minutes"]) for r in rows] == [40, 10, 30, 20]
    html = exact.to_html()
    assert "Business impact score and its parts" in html and "Equal scores are ranked by revenue" in html
    assert html.count('<title>INC-104 - revenue: 20.00</title>') == 1


def test_trend_shows_resolved_within_7_days_counting_open_incidents(exact: ReportResult) -> None:
    months = {r["period_start"]: r for r in exact.section("trends").records if r["grain"] == "month"}
    march, february = months[dt.date(2026, 3, 1)], months[dt.date(2026, 2, 1)]
    # March: 9 incidents, 6 resolved within 7 days, 3 still open: 6 / 9. MTTR averages only the 6.
    assert (march["resolved_within_7d_measured"], float(march["resolved_within_7d_pct"])) == (9, 66.67)
    assert (float(march["open_pct"]), float(march["mttr_minutes"])) == (33.33, 188.33)
    assert (february["resolved_within_7d_measured"], float(february["resolved_within_7d_pct"])) == (4, 100)
    html = exact.to_html()
    assert "resolved within 7 days, % (right axis)" in html and "counting those still open as not resolved" in html
    assert "MTTR (resolved)" in html and "MTTR (mean, right axis)" not in html


def test_oncall_load_counts_pagerduty_bands_in_local_time(exact: ReportResult) -> None:
    rows = [{k: r[k] for k in ("user_id", "timezone", "business_hours", "off_hours", "sleep_hours", "interruptions")}
            for r in exact.section("oncall_load").records]
    assert rows == [
        {"user_id": 10, "timezone": "America/New_York", "business_hours": 1, "off_hours": 2, "sleep_hours": 1,
         "interruptions": 4},
        {"user_id": 12, "timezone": "UTC", "business_hours": 1, "off_hours": 1, "sleep_hours": 1, "interruptions": 3},
        {"user_id": 11, "timezone": "Asia/Kolkata", "business_hours": 1, "off_hours": 0, "sleep_hours": 1,
         "interruptions": 2},
    ]
    assert "business hours 08:00-18:00 Monday to Friday, sleep hours 22:00-08:00" in exact.to_html()


def test_alert_noise_per_source_system(exact: ReportResult) -> None:
    rows = [{k: (float(v) if isinstance(v, decimal.Decimal) else v) for k, v in r.items()}
            for r in exact.section("alert_noise").records]
    assert [(r["source_system"], r["incidents"], r["alerts"], r["alerts_per_incident"], r["firing_notifications"],
             r["resolved_unacknowledged"], r["resolved_unacknowledged_pct"]) for r in rows] == [
        ("checkout", 1, 4, 4.0, 1, 1, 100.0), ("search", 2, 3, 1.5, 3, 0, 0.0)]


def test_alert_grouping_before_and_after(exact: ReportResult) -> None:
    rows = [{k: (float(v) if isinstance(v, decimal.Decimal) else v) for k, v in r.items()}
            for r in exact.section("alert_grouping").records]
    assert [(r["source_system"], r["alert_episodes"], r["incidents"], r["grouped_episodes"], r["noise_reduction_pct"])
            for r in rows] == [("search", 3, 2, 1, 33.3), ("checkout", 1, 1, 0, 0.0)]
    assert "Alert grouping: incidents before and after" in exact.to_html()


def test_text_report_escapes_control_characters_from_the_data(exact: ReportResult) -> None:
    """`report --format text` prints exactly to_text() (test_text_report_cli_prints_to_stdout)."""
    text = exact.to_text()
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text), "a control character reached the text report"
    assert "Checkout \\x1b[2J\\x1b]0;pwned\\x07 down"[:20] in text and "Ben \\x1b[31mKolk" in text
    html = exact.to_html()  # the page shows them the same way (its JSON island writes them as \u001b)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", html) and "Checkout \\x1b[2J" in html


def test_health_reason_peak_years_without_data_and_no_backticks(exact: ReportResult, report_html: Path) -> None:
    [head] = exact.section("headline").records
    assert head["health_status"] == "amber" and head["health_reason"].startswith("3 open incident(s) past")
    html = exact.to_html()
    assert re.search(r'<div class="value">amber</div><div class="sub">3 open incident\(s\) past their resolve '
                     r'target', html)
    # Seeded history ends 2026-06-30: 2026's Black Friday windows hold no incident.
    seeded = report_html.read_text(encoding="utf-8")
    years = {r["year"]: r for r in records(island(seeded), "peak_event")}
    assert years[2025]["coverage"] == "complete" and years[2026]["coverage"] == "no data"
    peak = seeded[seeded.index('<section id="peak_event">'):seeded.index('<section id="solutions">')]
    assert "<title>2026 - " not in peak and "Not compared: 2026 (no incidents in its windows)." in peak
    assert re.search(r"<td>2026</td><td>2026-11-27</td><td>no data</td>(<td class=\"n\">\u2013</td>)+</tr>", peak)
    for page in (html, seeded):  # `code` spans of definitions and messages are <code>, not Markdown
        assert "`" not in page[:page.index('<script type="application/json"')]


def test_heatmap_has_a_scale_and_every_axis_one_unit(report_html: Path) -> None:
    text = report_html.read_text(encoding="utf-8")
    heat = text[text.index('<section id="heatmap">'):text.index('<section id="aging_risk">')]
    assert heat.count('class="scale"') == 5 and "incidents per cell" in heat
    for svg in re.findall(r"<svg.*?</svg>", text, re.DOTALL):
        axes: dict[tuple[str, str], list[str]] = {}
        for x, y, label in re.findall(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*class="tick"[^>]*>([^<]*)</text>', svg):
            axes.setdefault(("y", y), []).append(label)  # an x axis: its ticks share a y
            axes.setdefault(("x", x), []).append(label)  # a y axis: its ticks share an x
        for labels in axes.values():
            units = {m.group(1) for label in labels if (m := re.search(r"(min|h|d|%)$", label))}
            assert len(units) <= 1, labels


def test_sla_targets_drawn_on_the_duration_charts(report_html: Path, on_seeded: Path) -> None:
    text = report_html.read_text(encoding="utf-8")
    rows = records(island(text), "durations")
    sql = "SELECT priority, acknowledge_minutes, resolve_minutes FROM sla_policies"
    targets = {r["priority"]: r for r in query(sql)}
    for r in rows:
        assert r["target_minutes"] == targets[r["priority"]][f"{r['metric']}_minutes"], r
    durations = text[text.index('<section id="durations">'):text.index('<section id="revenue_by_category">')]
    marks = re.findall(r'<line class="mark target"[^>]*><title>(\w+) - SLA target: ([^<]+)</title>', durations)
    assert len(marks) == 8 and ("critical", "5.0 min") in marks and ("low", "10.0 d") in marks, marks


@pytest.mark.slow
def test_a_failing_section_is_reported_and_the_rest_written(handmade: Path, tmp_path: Path, runner: CliRunner,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    local = tmp_path / "local"
    shutil.copytree(handmade, local)
    monkeypatch.setenv("INCIDENTS_LOCAL_DIR", str(local))
    with incidents.Workspace.open(REPO) as ws:
        ws.query("UPDATE users SET timezone = 'Mars/Olympus' WHERE user_id = 12")
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", "--from", str(P_FROM), "--to", str(P_TO), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "warning: section not computed: On-call load per responder:" in result.stderr
    data = island(out)
    errors = {s["key"]: s["error"] for s in data["sections"] if s["error"]}
    assert list(errors) == ["oncall_load"] and "Mars/Olympus" in errors["oncall_load"]
    assert records(data, "headline")[0]["incidents"] == 9 and "This section could not be computed" in out.read_text()


def test_default_output_is_a_git_ignored_reports_folder(deployed_local: Path, tmp_path: Path, runner: CliRunner,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from incidents.workspace import init_project

    def git(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True)

    # A project whose .gitignore (none here) predates reports/: the folder ignores itself.
    project = tmp_path / "older"
    for part in ("config", "templates"):
        shutil.copytree(REPO / part, project / part)
    git(project, "init", "-q")
    monkeypatch.chdir(project)
    result = runner.invoke(app, ["report", "--from", str(P_FROM), "--to", str(P_TO), "-q"])
    assert result.exit_code == 0, result.output
    written = project / "reports" / "report-2026-03-01_2026-03-28.html"  # -q: the path alone on stdout
    assert result.stdout.strip() == str(written) and written.is_file()
    assert not (project / "report.html").exists()
    assert "reports" not in git(project, "status", "--porcelain", "--untracked-files=all").stdout
    # A project `incidents init` made lists reports/ in its .gitignore.
    fresh = tmp_path / "fresh"
    init_project(fresh)
    git(fresh, "init", "-q")
    assert "reports/" in (fresh / ".gitignore").read_text()
    assert git(fresh, "check-ignore", "-q", "reports/report-2026-03-01_2026-03-28.html").returncode == 0


def test_report_package_has_no_import_cycle() -> None:
    """Every import between the modules of incidents.report, also those inside functions."""
    import ast

    package = Path(incidents.__file__).parent / "report"
    names = {p.stem for p in package.glob("*.py")}
    edges: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("incidents.report"):
                targets = {node.module.split(".")[2]} if node.module.count(".") >= 2 else \
                    {a.name for a in node.names if a.name in names}
                edges.setdefault(path.stem, set()).update(t for t in targets if t != path.stem)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in edges.get(start, ()))

    assert [m for m in sorted(names) if reaches(m, m, set())] == []
