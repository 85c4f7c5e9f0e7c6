"""The price catalog: the shipped file loads and is consistent; a bad file is one line naming the field."""

from pathlib import Path

import pytest
import yaml

from perseus.config.prices import load_catalog
from perseus.core.errors import ConfigError
from perseus.cost.pricing import cost_line, cost_lines, machine_cost_per_million_usd

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "src" / "perseus" / "config" / "prices.yaml"


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _machine(**changes: object) -> dict[str, object]:
    machine: dict[str, object] = {
        "id": "box",
        "provider": "acme",
        "name": "box-2",
        "region": "here",
        "usd_per_h": 0.1,
        "vcpus": 2,
        "memory_gib": 8,
        "source": "https://example.com/pricing",
        "as_of": "2024-06-01",
    }
    machine.update(changes)
    return machine


def test_shipped_catalog_loads_and_is_consistent() -> None:
    catalog = load_catalog()
    ids = catalog.ids()
    assert len(ids) == len(set(ids)) >= 12
    n2 = catalog.get("gcp-n2-standard-2")
    assert n2.usd_per_h == 0.097118  # what the demo prices with by default
    # N2 list price = vCPUs × 0.031611 + GiB × 0.004237 (us-central1).
    for size in (2, 4, 8):
        m = catalog.get(f"gcp-n2-standard-{size}")
        assert m.usd_per_h == pytest.approx(size * 0.031611 + 4 * size * 0.004237, abs=1e-6)
    # The paper's set-ups: 6 vCPUs with 1 or 2 P4 or T4 GPUs.
    paper = [m for m in catalog.machines if m.id.startswith("gcp-n1-custom-6-")]
    assert {(m.gpus[0].model, m.gpus[0].count) for m in paper} == {
        (f"NVIDIA {g}", n) for g in ("P4", "T4") for n in (1, 2)
    }
    assert all(m.vcpus == 6 for m in paper)
    assert catalog.get("aws-g4dn.xlarge").gpus[0].model == "NVIDIA T4"
    assert all(not m.gpus for m in catalog.machines if m.id in ("aws-c7i.large", "azure-d2s-v5"))
    for m in catalog.machines:
        assert m.source.startswith("https://") and m.as_of.year >= 2019
        assert "check" in m.notes  # every price says it must be checked before relying on it
    assert catalog.currency == "USD"


def test_repo_catalog_link_and_explicit_path() -> None:
    link = REPO / "catalog" / "prices.yaml"
    assert link.is_symlink() and link.resolve() == SHIPPED.resolve()
    assert load_catalog(link) == load_catalog()


def test_unknown_key_is_one_line_naming_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, {"machines": [_machine(usd_per_hour=0.1)]})
    with pytest.raises(ConfigError) as info:
        load_catalog(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message and "machines.0.usd_per_hour" in message and "'box'" in message


@pytest.mark.parametrize(
    ("machine", "field"),
    [
        (_machine(usd_per_h=0), "usd_per_h"),
        (_machine(source="cloud.example"), "source"),
        (_machine(as_of="last year"), "as_of"),
        (_machine(gpus=[{"model": "T4", "count": 0}]), "gpus.0.count"),
        (_machine(pricing="whenever"), "pricing"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, machine: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=f"machines.0.{field}"):
        load_catalog(_write(tmp_path, {"machines": [machine]}))


def test_duplicate_ids_and_other_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="machine id listed twice: box"):
        load_catalog(_write(tmp_path, {"machines": [_machine(), _machine(usd_per_h=0.2)]}))
    with pytest.raises(ConfigError, match="currency"):
        load_catalog(_write(tmp_path, {"currency": "EUR", "machines": [_machine()]}))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_catalog(_write(tmp_path, ["not", "a", "mapping"]))
    with pytest.raises(ConfigError, match="cannot read"):
        load_catalog(tmp_path / "missing.yaml")


def test_unknown_machine_lists_the_known_ids() -> None:
    with pytest.raises(ConfigError) as info:
        load_catalog().get("gcp-n9-huge")
    message = str(info.value)
    assert "unknown machine 'gcp-n9-huge'" in message
    assert "gcp-n2-standard-2" in message and "aws-c7i.large" in message and "\n" not in message


def test_cost_per_million_and_cost_lines() -> None:
    catalog = load_catalog()
    n2 = catalog.get("gcp-n2-standard-2")
    # The paper's arithmetic: $/h / (3600 × req/s) per inference.
    assert machine_cost_per_million_usd(n2, 25.0) == pytest.approx(0.097118 / (3600 * 25.0) * 1e6)
    line = cost_line("resnet50 dedicated", n2, 25.0)
    assert (line.placement, line.machine, line.price_usd_per_h, line.throughput_rps) == (
        "resnet50 dedicated",
        "gcp-n2-standard-2",
        0.097118,
        25.0,
    )
    assert line.usd_per_1m == pytest.approx(1.0791, abs=1e-4)
    lines = cost_lines({"a": 10.0, "shared": 20.0}, [n2, catalog.get("aws-c7i.large")])
    assert [(c.placement, c.machine) for c in lines] == [
        ("a", "gcp-n2-standard-2"),
        ("shared", "gcp-n2-standard-2"),
        ("a", "aws-c7i.large"),
        ("shared", "aws-c7i.large"),
    ]
    with pytest.raises(ConfigError, match="throughput must be > 0"):
        cost_line("x", n2, 0.0)
