"""Run the report's queries (templates/report/, one per section) over the analytics views."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from incidents.errors import ConfigError, NotDeployedError, TargetError, printable
from incidents.project.deployment import Deployment
from incidents.project.models import Project
from incidents.report.data import SectionResult
from incidents.report.period import TrendWindow, resolve_period
from incidents.report.result import ReportResult
from incidents.report.sections import SECTIONS, Section
from incidents.sql.session import Session, is_missing_object

# on_progress(done, total, label, seconds): called before each query (seconds None) and after it.
Progress = Callable[[int, int, str, float | None], None]


def build_report(session: Session, dep: Deployment, where: str, *,
                 start: dt.date | None = None, end: dt.date | None = None,
                 on_progress: Progress | None = None) -> ReportResult:
    began = time.perf_counter()
    project, env = dep.project, dep.env
    definitions = _definitions(project)
    progress = on_progress or (lambda *_: None)
    total = len(SECTIONS) + 1
    progress(0, total, "bounds", None)
    first_day, last_day, incidents, seconds = _bounds(session, dep)
    progress(1, total, "bounds", seconds)
    period = resolve_period(start, end, last_day)
    trend = TrendWindow.ending(period)
    # The days the data covers, as the bounds query found them: a section that needs them (which peak
    # years the data covers) reads these parameters instead of scanning the incidents again.
    ctx = {"period": period, "previous": period.previous, "trend": trend, "data_first_day": first_day,
           "data_last_day": last_day}
    results = []
    for i, section in enumerate(SECTIONS, start=2):
        progress(i - 1, total, section.key, None)
        results.append(_run(session, dep, section, definitions, ctx))
        progress(i, total, section.key, results[-1].seconds)
    return ReportResult(env.name, where, env.database, env.schema, project.currency, period, trend, incidents,
                        dt.datetime.now(dt.timezone.utc).replace(microsecond=0), tuple(results),
                        time.perf_counter() - began)


def _definitions(project: Project) -> dict[str, str]:
    declared = {v.name: str(v.comment or "") for v in project.views}
    needed = sorted({v for s in SECTIONS for v in s.views} - set(declared))
    if needed:
        raise ConfigError(f"the report reads views that config/views.yml does not declare: {', '.join(needed)}; "
                          "add them back", file="config/views.yml")
    return declared


def _bounds(session: Session, dep: Deployment) -> tuple[dt.date | None, dt.date | None, int, float]:
    sql = dep.render("report/bounds.sql.j2")
    start = time.perf_counter()
    try:
        row = session.query(sql, obj="v_incident_overview")[0]
    except TargetError as exc:
        if is_missing_object(exc):
            raise NotDeployedError(f"the analytics views do not exist in {dep.database}.{dep.schema}: "
                                   "run `incidents deploy` first") from None
        raise
    return _as_date(row["FIRST_DAY"]), _as_date(row["LAST_DAY"]), int(row["INCIDENTS"]), time.perf_counter() - start


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def _run(session: Session, dep: Deployment, section: Section, definitions: dict[str, str],
         ctx: dict[str, object]) -> SectionResult:
    """The section's query; a failure of the target (a view missing since an upgrade, a value the
    database refuses) becomes the section's error, so one section never takes the report down."""
    sql = dep.render(section.template, **{**ctx, "limit": section.limit})
    views = tuple((v, definitions[v]) for v in section.views)
    start = time.perf_counter()
    try:
        columns, rows = session.execute(sql, obj=f"report {section.key} ({section.views[0]})")
    except TargetError as exc:
        error = (f"a view this section reads ({', '.join(section.views)}) is missing: run `incidents deploy`"
                 if is_missing_object(exc) else str(exc))
        return SectionResult(section, views, (), (), time.perf_counter() - start, error=printable(error))
    return SectionResult(section, views, tuple(c.lower() for c in columns), tuple(rows), time.perf_counter() - start)
