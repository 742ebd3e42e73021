"""Self-contained HTML report of a replay: inline SVG charts, no script, no network."""

from monitor.outputs.report.collector import ReportCollector
from monitor.outputs.report.html import render_report

__all__ = ["ReportCollector", "render_report"]
