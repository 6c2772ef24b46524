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
from incidents.config import load_project
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
    assert [s["key"] for s in data["sections"]] == [s.key for s in SECTIONS] and len(SECTIONS) == 13
    for section in data["sections"]:
        for view in section["views"]:
            assert view["definition"] == comments[view["name"]]
            assert f"<code>{view['name']}</code>: {markupsafe.escape(comments[view['name']])}" in text, view["name"]
        assert not section["empty"] or section["key"] == "data_quality", section["key"]  # seeded data is clean


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
    direct = query("SELECT metric, priority, incidents_measured, median_minutes, p90_minutes, avg_minutes "
                   "FROM v_duration_distribution WHERE metric IN ('acknowledge', 'resolve')")
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
    assert plain(records(data, "peak_event")) == plain(query("SELECT * FROM v_peak_event_comparison ORDER BY year"))
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
    assert "wrote" in day.stderr and " 1/14 bounds" in day.stderr  # progress on stderr
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
    assert [s["empty"] for s in data["sections"] if s["scope"] == "period" and s["key"] != "headline"] == [True, True]
    assert "No incidents created in the period." in empty.read_text(encoding="utf-8")


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
    assert not empty and re.search(r"Checks passed +69 of 69", text), text
    bad = ("INSERT INTO sla_policies (priority, acknowledge_minutes, first_response_minutes, resolve_minutes) "
           "VALUES ('bad1', 1, 2, 3), ('bad2', 1, 2, 3)")
    assert runner.invoke(app, ["query", bad, *args]).exit_code == 0
    assert runner.invoke(app, ["check", *args]).exit_code == 1
    empty, text = section()
    assert re.search(r"Checks passed +68 of 69", text) and re.search(r"Rows failing +2\b", text), text
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
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "report-full.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"full-page screenshot: {shot}")
            if os.environ.get("INCIDENTS_UPDATE_SCREENSHOT"):  # the README's picture: the top of the page
                page.screenshot(path=str(REPO / "docs" / "report.png"), full_page=False)
        finally:
            browser.close()
    assert console == []
    assert requests == [report_html.as_uri()]
    assert len(marks) >= 12 and all(n > 0 for n in marks), marks
    assert all(w > 0 for w in sizes), sizes
    assert shot.stat().st_size > 50_000


def test_every_report_query_parses_as_snowflake() -> None:
    import sqlglot
    from sqlglot import exp

    from incidents.config import environment
    from incidents.render import context
    from incidents.report.period import Period, TrendWindow
    from incidents.templating import render_template

    project = load_project(REPO)
    period = Period(dt.date(2026, 6, 1), END)
    ctx = context(project, environment(project, "prod"), period=period, previous=period.previous,
                  trend=TrendWindow.ending(period), limit=10)
    for name in ["bounds", *(s.key for s in SECTIONS)]:
        sql = render_template(project.templates_dir, f"report/{name}.sql.j2", **ctx)
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
