"""The HTML report is one self-contained, escaped file with the run's numbers, figures and provenance."""

import dataclasses
import re
from pathlib import Path

from perseus.core.interval import Estimate
from perseus.experiments import frontier
from perseus.report import render_html, write_report
from perseus.report.fmt import WEIGHTS_SENTENCE
from tests.unit.test_report_factory import every_kind, frontier_findings, sample_results


def test_report_is_self_contained_with_numbers_and_provenance(tmp_path: Path) -> None:
    path = write_report(sample_results(), tmp_path / "run-7").html
    assert path == tmp_path / "run-7" / "report.html"
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "Multi-tenant serving saves" in page
    pages = [
        write_report(r, tmp_path / f"kind-{i}").html.read_text(encoding="utf-8")
        for i, r in enumerate(every_kind())
    ]
    for number in ("25.3", "164.8", "+6.3%", "+4.9%", "2.50×", "1.066"):
        assert any(number in p for p in pages), number
    assert [p.count('src="data:image/png;base64,') for p in pages] == [2, 1, 2, 1]
    # Each figure follows the table it illustrates.
    assert page.index('id="fig1"') < page.index("data:image/png") < page.index('id="costs"')
    # Nothing is fetched: no scripts, no external stylesheets, images or fonts.
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)
    assert "url(" not in page
    for fact in ("AMD EPYC 7B13", "2.51.0", "0123456789abcdef", "perseus run experiments/frontier.yaml"):
        assert fact in page
    assert WEIGHTS_SENTENCE in page
    assert "2025-11-24T10:00:00+00:00" in page
    assert "41 trials (1 failed)" in page
    assert not re.search(r"\bnan\b", re.sub(r"data:image/png;base64,[^\"]+", "", page), re.IGNORECASE)


def test_every_string_is_escaped() -> None:
    results = sample_results(
        name="<b>x</b>",
        warnings=['<img src=x onerror="alert(1)">'],
        provenance={**sample_results().provenance, "git_sha": "<script>alert(1)</script>"},
    )
    found = results.findings.fig1
    assert found is not None
    shared = dataclasses.replace(found.shared, rates_rps={"<b>x</b>": 23.4})
    fig1 = dataclasses.replace(found, models=["<b>x</b>"], shared=shared)
    page = render_html(dataclasses.replace(results, findings=frontier_findings(fig1=fig1)))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "<script>" not in page


def test_negative_saving_is_the_headline() -> None:
    found = frontier_findings().fig1
    assert found is not None
    fig1 = dataclasses.replace(found, saving_interval=Estimate(-0.072, -0.09, -0.05, 1))
    page = render_html(sample_results(frontier_findings(fig2=None, fig1=fig1)))
    assert (
        'class="headline bad">Multi-tenant serving costs 7.2% more (-9.0% to -5.0%; its sign not '
        "established: one search, run-to-run spread unknown) at the shared peak, "
        "against resnet50 alone at default knobs: 25.3 (25.3–30.4) req/s; mobilenet_v2 alone at default "
        "knobs: 164.8 (164.8–197.8) req/s; interval: search bracket only, run-to-run spread not measured: "
        "see --repeats.</p>"
    ) in page
    assert "sharing COSTS MORE by 7.2%" in page


def test_empty_results_still_make_a_page(tmp_path: Path) -> None:
    results = sample_results(frontier.Findings({}, None, None), status="failed", reason="boom")
    page = write_report(results, tmp_path).html.read_text(encoding="utf-8")
    assert "No results to show" in page and "run failed: boom" in page and "Provenance" in page
