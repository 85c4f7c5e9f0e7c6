"""Human-facing output: rich tables now; figures and HTML later."""

from perseus.report.demo_table import demo_json, render_demo

__all__ = ["demo_json", "render_demo"]
