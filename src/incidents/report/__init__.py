"""`incidents report`: the analytics views as a self-contained HTML page (inline SVG charts, no
script, no network) or as text. Every figure is a row of a query over the views
(templates/report/*.sql.j2); Python only lays the figures out."""

from incidents.report.build import build_report
from incidents.report.data import ReportData, SectionResult
from incidents.report.period import Period, TrendWindow, parse_date, resolve_period
from incidents.report.result import ReportResult
from incidents.report.sections import SECTIONS, Section

__all__ = ["SECTIONS", "Period", "ReportData", "ReportResult", "Section", "SectionResult", "TrendWindow",
           "build_report", "parse_date", "resolve_period"]
