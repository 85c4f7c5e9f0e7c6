"""docs/reference.md is what `make reference` generates from the models today, every field it lists says
what it is for, and every experiment kind has an example file in experiments/ that loads."""

from pathlib import Path

import pytest

from perseus.experiments.registry import KINDS, load_experiment
from perseus.report.reference import reference

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference.md"


def test_reference_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference(ROOT), (
        "docs/reference.md is stale: run `make reference` (or "
        "`python -m perseus.report.reference docs/reference.md`) and commit it"
    )


def test_every_field_is_described() -> None:
    rows = [line for line in reference(ROOT).splitlines() if line.startswith("| `")]
    assert len(rows) > 60
    for row in rows:
        _name, kind, default, description = (cell.strip() for cell in row.strip("|").split(" | "))
        assert description and kind and default, row


def test_every_format_and_kind_has_its_section() -> None:
    text = reference(ROOT)
    for heading in ("## Experiment files", "## Serve config", "## Price catalog", "## Frontier CSV"):
        assert heading in text
    for kind in KINDS:
        assert f"#### `kind: {kind.NAME}`" in text
        assert all(f"| `{name}` |" in text for name in kind.Settings.model_fields)
    for field in ("retries", "late_threshold_ms", "start_rps", "share", "usd_per_h", "ready_timeout_s"):
        assert f"| `{field}` |" in text


EXAMPLES = sorted((ROOT / "experiments").glob("*"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_file_loads(path: Path) -> None:
    assert path.suffix == ".yaml", f"{path.name}: experiments/ holds experiment files only"
    experiment = load_experiment(path)
    assert experiment.name and experiment.kind in {k.NAME for k in KINDS}


def test_every_kind_has_an_example_file() -> None:
    shipped = {load_experiment(path).kind for path in EXAMPLES}
    assert shipped == {k.NAME for k in KINDS}
    assert "[`experiments/peak.yaml`](../experiments/peak.yaml)" in reference(ROOT)
