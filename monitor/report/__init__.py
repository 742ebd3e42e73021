"""Self-contained HTML report of a replay: inline SVG charts, no script, no network."""

from monitor.report.collector import ReportCollector
from monitor.report.html import render_report

__all__ = ["ReportCollector", "render_report"]
