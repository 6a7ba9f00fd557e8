"""Reports and shared presentation: the self-contained HTML report, plotly figures and the wording used by
both the report and the dashboard."""

from neurix_core.report.html import build_report

__all__ = ["build_report"]
