"""The example kind of ARCHITECTURE.md is real: the document quotes these modules verbatim, and with its
one registry line the kind reads its file, runs its plan, stores its keys, and reports."""

import re
from pathlib import Path

import pytest
from rich.console import Console

from perseus.core.errors import ConfigError
from perseus.experiments import registry
from perseus.experiments.results import experiment_results
from perseus.report import render_results
from perseus.store import Store
from tests.unit import example_kind
from tests.unit.fake_server import run_on

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")


def _code_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL)]


def test_the_document_quotes_the_example_verbatim() -> None:
    blocks = _code_blocks(DOC)
    for module in ("example_kind.py", "example_kind_report.py"):
        source = (Path(__file__).parent / module).read_text(encoding="utf-8").strip()
        assert source in blocks, f"ARCHITECTURE.md no longer shows {module} as it is"


def test_the_example_kind_runs_with_its_registry_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "name: s\nkind: steady\nmodels: [synthetic-sleep:service_ms=10]\nsteady: {rates_rps: [20, 60]}\n"
    path = tmp_path / "steady.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="kind: must be one of"):
        registry.load_experiment(path)  # not registered: one clear line
    monkeypatch.setattr(registry, "KINDS", (*registry.KINDS, example_kind))  # the registry line
    experiment = registry.load_experiment(path)
    store = Store(tmp_path / "results.db")
    run_id, phases = run_on(store, experiment)
    assert phases.labels == ["dedicated synthetic-sleep"]
    results = experiment_results(store, run_id)
    p95 = results.findings.p95_ms["synthetic-sleep"]
    assert sorted(p95) == [20.0, 60.0] and p95[60.0] > p95[20.0]
    console = Console(width=120, record=True)
    render_results(results, console)
    assert "p95 at fixed rates" in console.export_text()
