"""`profile: {pairs: auto, auto_sets: true}` on the real embedded Triton: three tiny sleeping models
profiled for a fleet of all three; the plan at the cautious κ puts the three on one machine, so their set
is searched as one co-location (not their three pairs), and the plan made from the profile puts them on
one machine, each pair's κ from the set."""

import json
from pathlib import Path

import pytest
import yaml

from perseus.experiments import profile
from perseus.experiments.analysis import trials_of
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.store import Store
from tests.integration.helpers import cli, wait_gone
from tests.integration.test_planner import PROFILE, A, B

pytestmark = pytest.mark.integration

C = "synthetic-sleep:service_ms=15"


def test_pairs_auto_searches_the_set_the_fleet_needs(tmp_path: Path, perseus_home: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    # Sleeping models at 5 req/s each use a small fraction of their λ (each search's first probe, 50 req/s,
    # is met by a 5–15 ms sleep under a p80 of 80 ms: λ ≥ 50), so at the cautious κ 0.4 all three share one
    # machine (≤ 0.1 × 3 + 0.4): round 1 measures the set A + B + C, and round 2, each pair at the set's κ,
    # plans the same machine. Two probes a search: λ need not be precise here, and the test stays short.
    tenants = [
        {"name": "small", "model": "fast", "rate": 5, "sla": "p80=80ms"},
        {"name": "other", "model": B, "rate": 5, "sla": "p80=100ms"},
        {"name": "third", "model": C, "rate": 5, "sla": "p80=100ms"},
    ]
    fleet.write_text(yaml.safe_dump({"name": "auto fleet", "profiles": ["auto profile"], "tenants": tenants}))
    section = {"machine": "gcp-n2-standard-2", "pairs": "auto", "auto_sets": True, "fleet": str(fleet)}
    spec = {
        **PROFILE,
        "name": "auto profile",
        "models": [{"name": "fast", "model": A}, B, C],
        "search": {**PROFILE["search"], "max_probes": 2},
        "profile": section,
    }
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(spec))
    done = cli(["run", str(path), "--no-report"])
    assert done.returncode == 0, done.stderr
    assert not wait_gone(perseus_home)

    store = Store(perseus_home / "results.db")
    (run,) = [r for r in store.runs() if r.spec.get("name") == "auto profile"]
    exp = parse_experiment(run.spec, "stored")
    assert isinstance(exp, profile.Settings)
    rows = store.trials(run.id)
    trio = ("fast", "synthetic-sleep", "synthetic-sleep-2")
    assert not any(trials_of(rows, g.where, profile.CAPACITY) for g in profile.groups(exp))  # no pair
    (group,) = profile.chosen_sets(exp, rows, 1)
    assert tuple(sorted(group.shares)) == trio
    found = experiment_results(store, run.id).findings
    assert isinstance(found, profile.Findings)
    (choice,) = found.choices
    assert choice.measured == {trio: 1} and choice.finished

    planned = cli(["plan", str(fleet), "--json"])
    assert planned.returncode == 0, planned.stderr
    data = json.loads(planned.stdout)
    (machine,) = data["machines"]
    assert data["dedicated_usd_per_h"] == pytest.approx(3 * data["usd_per_h"])
    assert any("κ from the set" in flag for flag in machine["flags"])
