"""A stored run is priced with the catalog of today: a machine that left it, or a catalog that is gone, is a
visible notice in the terminal and HTML reports, never a failed report (`perseus report N` exits 0)."""

import html
import os
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import ExperimentResults, experiment_results
from perseus.report import render_html, render_results
from perseus.store import Store
from tests.integration.helpers import cli
from tests.unit.fake_server import run_on
from tests.unit.test_references import catalog_machine

MODELS = ["synthetic-sleep:service_ms=10", "synthetic-cpu:dim=64"]


def _stored(tmp_path: Path, price: dict[str, Any]) -> tuple[Store, int]:
    store = Store(tmp_path / "results.db")
    fields = {"name": "t", "kind": "dedicated-vs-multitenant", "models": MODELS, "sla": "p95=100ms"}
    run_id, _ = run_on(store, parse_experiment({**fields, "price": price}, "test"))
    return store, run_id


def _terminal(results: ExperimentResults) -> str:
    console = Console(width=300, record=True, force_terminal=False)
    render_results(results, console)
    return console.export_text()


def _costs(results: ExperimentResults) -> list[tuple[str, str]]:
    fig1 = results.findings.fig1
    assert fig1 is not None  # Fig 1 itself is reported whatever happens to the prices
    return [(c.machine, c.placement) for c in fig1.costs]


def test_a_machine_that_left_the_catalog_is_a_notice(tmp_path: Path) -> None:
    catalog = tmp_path / "prices.yaml"
    catalog.write_text(yaml.safe_dump({"machines": [catalog_machine("box"), catalog_machine("big", 0.4)]}))
    store, run_id = _stored(tmp_path, {"catalog": str(catalog), "machines": ["big", "box"]})
    before = experiment_results(store, run_id)
    assert [m for m, _ in _costs(before)] == ["big"] * 3 + ["box"] * 3
    assert not any("priced" in w for w in before.warnings)

    catalog.write_text(yaml.safe_dump({"machines": [catalog_machine("box")]}))
    after = experiment_results(store, run_id)
    assert _costs(after) == _costs(before)[3:]
    notice = f"not priced on machine 'big': not in {catalog}, which has: box"
    assert notice in after.warnings
    assert notice in _terminal(after) and "Cost per 1M inferences" in _terminal(after)
    assert html.escape(notice) in render_html(after)

    catalog.unlink()
    gone = experiment_results(store, run_id)
    assert _costs(gone) == []
    notice = f"costs are not shown: the price catalog cannot be read (cannot read {catalog}: No such file"
    assert any(w.startswith(notice) for w in gone.warnings)
    text = _terminal(gone)
    assert notice in text and "Fig 1" in text and "Cost per 1M inferences" not in text
    assert html.escape(notice) in render_html(gone)


def test_cli_report_of_a_run_whose_machine_left_the_shipped_catalog(tmp_path: Path) -> None:
    store, run_id = _stored(tmp_path, {"machines": ["gcp-n2-standard-2", "gcp-n2-standard-96"]})
    store.close()
    out = tmp_path / "report"
    env = {**os.environ, "PERSEUS_HOME": str(tmp_path / "home")}
    result = cli(["report", str(run_id), "--db", str(tmp_path / "results.db"), "--out", str(out)], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    notice = (
        "not priced on machine 'gcp-n2-standard-96': not in the shipped price catalog, which has: gcp-n2-"
    )
    assert notice in " ".join(result.stdout.split())  # rich may wrap the line
    assert "Fig 1" in result.stdout and "gcp-n2-standard-2" in result.stdout
    assert html.escape(notice) in (out / "report.html").read_text(encoding="utf-8")
