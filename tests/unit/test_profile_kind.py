"""Kind `profile` over a model of a server (fake_server): λ alone per knob setting, co-location searches
along shares of work, and the machine profile the planner reads."""

from pathlib import Path

import pytest

from perseus.core.errors import ConfigError
from perseus.experiments import profile
from perseus.experiments.analysis import peak
from perseus.experiments.placements import PEAK, dedicated
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.store import Store
from tests.unit.fake_server import run_on
from tests.unit.test_kinds import CPU, CPU2, FAST, QUICK

SETTINGS = {"machine": "gcp-n2-standard-2", "solo": [{"instances": 2}]}


def _profile(tmp_path: Path, repeats: int = 1, **section: object) -> tuple[profile.Findings, list[str]]:
    exp = parse_experiment(
        {
            "name": "p",
            "kind": "profile",
            "models": [FAST, CPU, CPU2],
            **QUICK,
            "repeats": repeats,
            "profile": {**SETTINGS, **section},
        },
        "test",
    )
    store = Store(tmp_path / "results.db")
    run_id, phases = run_on(store, exp)
    assert phases.labels == profile.plan(exp)
    found = experiment_results(store, run_id).findings
    assert isinstance(found, profile.Findings)
    # Where a setting beat the configured one alone, it was searched again on a fresh server after the
    # choice, and the profile's best λ is that search's.
    for key, model in found.profile.models.items():
        if dict(model.best_setting) and repeats == 1:
            where = dedicated(exp, key, dict(model.best_setting), 1, confirm=True)
            (name,) = where.names
            again = peak(store.trials(run_id), where, PEAK, name, "bisect", "again", tenant=name)
            assert again is not None and model.best_rps.value == again.total_rps
    return found, phases.labels


def test_profile_measures_every_model_alone_and_every_pair(tmp_path: Path) -> None:
    found, phases = _profile(tmp_path, sets=[["synthetic-sleep", "synthetic-cpu", "synthetic-cpu-2"]])
    machine = found.profile
    assert machine.machine == "gcp-n2-standard-2"
    assert set(machine.models) == {"synthetic-sleep", "synthetic-cpu", "synthetic-cpu-2"}
    assert len(phases) == 3 * 2 + 3 + 3 + 1  # alone at 2 settings, each best confirmed, 3 pairs, 1 triple
    sleep = machine.models["synthetic-sleep"]
    # Two instances of a 10 ms sleep serve twice what one does; that is its machine of its own, and its
    # λ there is the confirmation's: the setting searched again on a fresh server after it was chosen.
    assert sleep.best_rps.value == pytest.approx(2 * sleep.shared_rps.value, rel=0.1)
    assert dict(sleep.best_setting) == {"instances": 2}
    assert phases[6:9] == [
        profile.confirm_label(k) for k in ("synthetic-sleep", "synthetic-cpu", "synthetic-cpu-2")
    ]
    assert dict(sleep.gains[1][0]) == {"instances": 2}
    assert sleep.gains[1][1] == pytest.approx(sleep.best_rps.value / sleep.shared_rps.value)
    assert sleep.sla == "p95=100ms"
    pairs = {c.models: c for c in machine.colocations if len(c.models) == 2}
    assert len(pairs) == 3
    for point in pairs.values():
        lam = {m: machine.models[m].shared_rps.value for m in point.models}
        used = [point.rates_rps[m] / lam[m] for m in point.models]
        assert used[0] == pytest.approx(used[1])  # searched along equal shares of the machine's work
        assert point.efficiency.value == pytest.approx(sum(used))
        assert point.efficiency.low <= point.efficiency.value <= point.efficiency.high
    # A sleeping model takes no CPU from a CPU-bound one: together they carry far more than one machine's
    # work; two CPU-bound models share one core: about one machine's work.
    assert pairs[("synthetic-cpu", "synthetic-sleep")].efficiency.value > 1.3
    assert pairs[("synthetic-cpu", "synthetic-cpu-2")].efficiency.value == pytest.approx(1.0, abs=0.2)
    (triple,) = [c for c in machine.colocations if len(c.models) == 3]
    assert triple.efficiency.value > 1.0


def test_repeats_are_whole_passes_merged_at_the_median_pass(tmp_path: Path) -> None:
    """Pass 2 measures every λ alone and every pair again, after pass 1, each pair against its own pass's
    λ; the profile keeps the median of each model's λ and both measurements of each pair."""
    found, phases = _profile(tmp_path, repeats=2, solo=[])
    assert len(phases) == 2 * (3 + 3)
    assert all("repeat=2" not in p for p in phases[:6]) and all("repeat=2" in p for p in phases[6:])
    machine = found.profile
    assert len([c for c in machine.colocations if len(c.models) == 2]) == 2 * 3
    for key, model in machine.models.items():
        passes = found.solo[key].values()
        assert len(passes) == 2
        assert model.shared_rps.value == pytest.approx(sum(p.total.value for p in passes) / 2)
    assert len(found.colocated) == 2 * 3


def test_profile_mixes_search_along_other_shares(tmp_path: Path) -> None:
    found, _ = _profile(tmp_path, solo=[], mixes=[0.25, 0.75])
    points = [c for c in found.profile.colocations if c.models == ("synthetic-cpu", "synthetic-sleep")]
    assert sorted(c.mix for c in points) == [0.25, 0.75]


def test_profile_file_errors_are_one_line() -> None:
    base = {"name": "p", "kind": "profile", "models": ["resnet50", "mobilenet_v2"]}
    with pytest.raises(ConfigError, match=r"profile\.sets\.0: 3 or more different models"):
        parse_experiment({**base, "profile": {"machine": "x", "sets": [["resnet50", "mobilenet_v2"]]}}, "f")
    with pytest.raises(ConfigError, match=r"profile\.machine"):
        parse_experiment({**base, "profile": {}}, "f")
    with pytest.raises(ConfigError, match="mixes must lie strictly between 0 and 1"):
        parse_experiment({**base, "profile": {"machine": "x", "mixes": [1.0]}}, "f")
    with pytest.raises(ConfigError, match="each model once"):
        parse_experiment({**base, "models": ["resnet50", "resnet50"], "profile": {"machine": "x"}}, "f")
