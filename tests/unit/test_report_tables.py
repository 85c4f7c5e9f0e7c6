"""The terminal report: every section renders, any section may be missing, NaN never prints as a number."""

import dataclasses
import math
import re

import pytest
from rich.console import Console

from perseus.core.interval import Estimate
from perseus.experiments import frontier, interference, knobs, peak, qos
from perseus.experiments.fig1 import Fig1
from perseus.experiments.interference import Slowdown
from perseus.experiments.results import ExperimentResults
from perseus.report import render_results
from perseus.report.fmt import num, pct, saving_words
from perseus.report.kinds import headline
from tests.unit.test_report_factory import (
    A,
    B,
    dedicated,
    every_kind,
    frontier_findings,
    interference_findings,
    sample_results,
)


def _render(results: ExperimentResults) -> str:
    console = Console(width=160, record=True, force_terminal=False)
    render_results(results, console)
    return console.export_text()


def test_all_sections_render_with_their_numbers() -> None:
    text = "".join(_render(results) for results in every_kind())
    for title in (
        "Fig 1",
        "Cost per 1M",
        "Peak throughput",
        "Fig 2",
        "QoS satisfaction",
        "Interference",
        "Knobs",
    ):
        assert title in text
    assert "25.3" in text and "164.8" in text  # each model's λ
    # The sample's savings rest on one search each: no claim of their sign is made.
    assert "+6.3%" in text and "its sign not established" in text and "above zero" not in text
    assert "★ best" in text
    assert "2.50×" in text  # mobilenet_v2 beside resnet50
    assert "41 trials (1 failed)" in text
    assert "AMD EPYC 7B13 × 2 CPUs" in text and "tritonserver 2.51.0" in text and "random" in text
    assert "FAILED: server fault" in text
    assert not re.search(r"\bnan\b", text, re.IGNORECASE)


@pytest.mark.parametrize(
    ("kind", "findings"),
    [
        ("frontier", frontier_findings(fig2=None)),
        ("frontier", frontier_findings(fig1=None)),
        ("peak", peak.Findings({})),
        ("qos-sweep", qos.Findings(dedicated(), [])),
        ("interference", interference.Findings({}, [], [])),
        ("knobs", knobs.Findings([], None, {})),
        ("frontier", frontier.Findings({}, None, None)),
    ],
    ids=["fig2", "fig1", "peaks", "qos", "interference", "knobs", "everything"],
)
def test_any_section_may_be_missing(kind: str, findings: object) -> None:
    text = _render(sample_results(findings, kind))
    assert "trials" in text
    if isinstance(findings, frontier.Findings) and findings.fig2 is None and findings.fig1 is not None:
        assert "Fig 2" not in text and "at the shared peak" in text  # the headline falls back to Fig 1
    if kind in ("peak", "interference", "knobs") or findings == frontier.Findings({}, None, None):
        assert "No results to show" in text


def test_nan_is_shown_as_a_dash() -> None:
    found = frontier_findings().fig1
    assert found is not None
    shared = dataclasses.replace(found.shared, p95_ms={A: math.nan, B: math.nan})
    fig1 = Fig1(found.models, found.dedicated, shared, Estimate.exact(math.nan), found.costs, found.against)
    broken = Slowdown(A, [B], False, math.nan, 0.0, math.nan)  # p95 alone 0 → ratio NaN
    text = _render(sample_results(frontier_findings(fig1=fig1, fig2=None)))
    text += _render(
        sample_results(dataclasses.replace(interference_findings(), pairs=[broken]), "interference")
    )
    assert not re.search(r"\b(nan|inf)\b", text, re.IGNORECASE)
    assert "no saving could be computed" in text
    cells = ["resnet50", "default knobs", r"25\.3", r"25\.3–30\.4", r"612\.0", r"23\.4", r"23\.4–28\.1", "-"]
    assert re.search(r"\s+│\s+".join(cells) + r"\s+│", text)


def test_negative_saving_says_sharing_costs_more() -> None:
    found = frontier_findings().fig1
    assert found is not None
    results = sample_results(
        frontier_findings(
            fig2=None, fig1=dataclasses.replace(found, saving_interval=Estimate(-0.072, -0.09, -0.05, 1))
        )
    )
    text = _render(results)
    assert "-7.2%" in text and "sharing COSTS MORE by 7.2%" in text
    line = headline(results)
    assert line is not None and line.text.startswith("Multi-tenant serving costs 7.2% more")


def test_run_that_did_not_finish_says_so() -> None:
    text = _render(
        sample_results(status="interrupted", reason="stopped before the end; finished trials are kept")
    )
    assert "run interrupted: stopped before the end" in text


def test_markup_in_names_is_not_interpreted() -> None:
    results = sample_results(name="[red]x[/red]", warnings=["[bold]y"])
    text = _render(results)
    assert "[red]x[/red]" in text and "[bold]y" in text


def test_number_helpers() -> None:
    assert num(math.nan) == num(None) == num(math.inf) == "-"
    assert pct(0.0723, signed=True) == "+7.2%" and pct(-0.0723, signed=True) == "-7.2%"
    assert pct(math.nan) == "-"
    assert saving_words(0.05) == "sharing saves 5.0%"
    assert saving_words(math.nan) == "no saving could be computed"
