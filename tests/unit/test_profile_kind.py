"""Kind `profile` over a model of a server (fake_server): λ alone per knob setting, co-location searches
along shares of work, and the machine profile the planner reads."""

from pathlib import Path

import pytest

from perseus.core.errors import ConfigError
from perseus.experiments import profile
from perseus.experiments.analysis import peak, trials_of
from perseus.experiments.placements import ESTIMATE, PEAK, dedicated
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
    # One instance of a 10 ms sleep meets p95 ≤ 100 ms up to ρ = 0.75 (75 req/s): its search starts at
    # 0.8 × the closed-loop 100 = 80 (no), 20, then bisects 50, 65, 72.5 (yes), 76.25 (no), 74.375 (yes)
    # and stops (1.875 ≤ 5% of 74.375). Two instances serve twice that and every rate of their search is
    # twice one's: 148.75. That is its machine of its own, and its λ there is the confirmation's: the
    # setting searched again on a fresh server after it was chosen, which fake_server runs 1.25× slower:
    # 12.5 ms, so p95 = 12.5(1 + 3ρ/(1 − ρ)) ≤ 100 ms up to ρ = 0.7, 2 × 0.7/0.0125 = 112 req/s. From 0.8 ×
    # 160 = 128 (no), 32, 80, 104 (yes), 116 (no), 110 (yes), 113 (no), stop: 110, not the chosen 148.75.
    assert (sleep.shared_rps.value, sleep.best_rps.value) == (74.375, 110.0)
    assert found.solo["synthetic-sleep"]["instances=2"].total_rps == 148.75
    assert dict(sleep.best_setting) == {"instances": 2}
    assert phases[6:9] == [
        profile.confirm_label(k) for k in ("synthetic-sleep", "synthetic-cpu", "synthetic-cpu-2")
    ]
    assert dict(sleep.gains[1][0]) == {"instances": 2}
    assert sleep.gains[1][1] == 110.0 / 74.375  # the confirmation's λ over as configured's
    assert sleep.sla == "p95=100ms"
    # A 2 ms CPU-bound model on its one core: p95 = 2(1 + 3ρ/(1 − ρ)) ≤ 100 ms up to ρ = 49/52, 471.2
    # req/s; from 0.8 × 500 = 400 (yes), 800, 600, 500 (no), 450 (yes), 475 (no), 462.5 (yes): 462.5. Two
    # instances share the same core: the same λ, so as configured stays its best.
    cpu = machine.models["synthetic-cpu"]
    assert (cpu.shared_rps.value, cpu.best_rps.value, dict(cpu.best_setting)) == (462.5, 462.5, {})
    pairs = {c.models: c for c in machine.colocations if len(c.models) == 2}
    assert len(pairs) == 3
    for point in pairs.values():
        lam = {m: machine.models[m].shared_rps.value for m in point.models}
        used = [point.rates_rps[m] / lam[m] for m in point.models]
        assert used[0] == pytest.approx(used[1])  # searched along equal shares of the machine's work
        assert point.efficiency.low <= point.efficiency.value <= point.efficiency.high
    # Each pair's search starts at one machine's work (efficiency 1) and doubles. A sleeping model takes no
    # CPU from a CPU-bound one: at 2 the sleeper is at 74.375 req/s (ρ 0.744), still feasible, at 4 not,
    # and the bisection's midpoints (3, 2.5, 2.25, 2.125, 2.0625) all exceed its 75 req/s: efficiency 2.
    assert pairs[("synthetic-cpu", "synthetic-sleep")].efficiency.value == pytest.approx(2.0)
    # Two 2 ms CPU-bound models share one core: at 1 (231.25 req/s each, ρ 0.925) feasible, at 2 not, and
    # every midpoint down to 1.03125 exceeds ρ = 49/52 (1.0188): efficiency 1.
    assert pairs[("synthetic-cpu", "synthetic-cpu-2")].efficiency.value == pytest.approx(1.0)
    # The three at equal work: at efficiency e each CPU-bound model serves e × 462.5/3 req/s, the two
    # together ρ = e × 308.33 × 2 ms = 0.6167e, past 49/52 beyond e = 1.528. From 1 (yes), 2 (no), 1.5
    # (yes), 1.75, 1.625, 1.5625 (no), stop: 1.5.
    (triple,) = [c for c in machine.colocations if len(c.models) == 3]
    assert triple.efficiency.value == pytest.approx(1.5)


def test_repeats_are_whole_passes_merged_at_the_median_pass(tmp_path: Path) -> None:
    """Three passes, each measuring every λ alone and every pair again, after the one before, each pair
    against its own pass's λ; the profile keeps the median of each model's λ and every pair measured."""
    found, phases = _profile(tmp_path, repeats=3, solo=[])
    assert len(phases) == 3 * (3 + 3)
    assert all("repeat=" not in p for p in phases[:6]) and all("repeat=2" in p for p in phases[6:12])
    assert all("repeat=3" in p for p in phases[12:])
    machine = found.profile
    assert len([c for c in machine.colocations if len(c.models) == 2]) == 3 * 3
    passes = {key: sorted(p.total.value for p in found.solo[key].values()) for key in machine.models}
    # fake_server runs pass k's servers 1 + (k − 1)/4 times slower. The sleeper: 74.375 in pass 1 (above);
    # 12.5 ms in pass 2, p95 ≤ 100 ms up to ρ = 0.7, 56 req/s: from 0.8 × 80 = 64 (no), 16, 40, 52 (yes), 58
    # (no), 55 (yes), 56.5 (no): 55; 15 ms in pass 3, up to ρ = 17/26, 43.59 req/s: from 53.33 (no), 13.33,
    # 33.33, 43.33 (yes), 48.33, 45.83, 44.58 (no): 43.33. The median is pass 2's 55; the mean would be
    # 57.569 and the first pass 74.375.
    assert passes["synthetic-sleep"] == pytest.approx([43.333333, 55.0, 74.375])
    assert machine.models["synthetic-sleep"].shared_rps.value == 55.0
    # The CPU-bound ones: 462.5 in pass 1; 2.5 ms in pass 2, up to ρ = 39/42, 371.43 req/s: from 320 (yes),
    # 640, 480, 400 (no), 360 (yes), 380 (no), 370 (yes): 370; 3 ms in pass 3, up to ρ = 97/106, 305.03
    # req/s: from 266.67 (yes), 533.33, 400, 333.33 (no), 300 (yes), 316.67, 308.33 (no): 300. Median 370
    # (mean 377.5).
    assert passes["synthetic-cpu"] == pytest.approx([300.0, 370.0, 462.5])
    assert machine.models["synthetic-cpu"].shared_rps.value == 370.0
    assert len(found.colocated) == 3 * 3


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


def test_solo_by_look_searches_only_the_setting_its_look_chooses(tmp_path: Path) -> None:
    """solo_by: look: every other setting is only looked at (closed loop, concurrency = its instances) and
    compared with the configured one's look; only the chosen setting is searched, on the confirmation's
    fresh server (after it was chosen), and that search is the setting's λ."""
    found, phases = _profile(tmp_path, solo_by="look")
    keys = ("synthetic-sleep", "synthetic-cpu", "synthetic-cpu-2")
    # Alone as configured (searched) and at 2 instances (looked at), each chosen setting confirmed, 3 pairs.
    assert len(phases) == 3 * 2 + 3 + 3
    store = Store(tmp_path / "results.db")
    (run,) = store.runs()
    exp = parse_experiment(run.spec, "stored")
    assert isinstance(exp, profile.Settings) and exp.profile.solo_by == "look"
    rows = store.trials(run.id)
    for key in keys:
        looked = dedicated(exp, key, {"instances": 2})
        assert trials_of(rows, looked, PEAK) == [] and len(trials_of(rows, looked, ESTIMATE)) == 1
    # fake_server's closed loop serves a sleeper's instances / its service time: 2 instances look twice as
    # fast, so the sleeper searches 2 instances (once, after it was chosen): its λ there is the
    # confirmation's 110 (see test_profile_measures_every_model_alone_and_every_pair), its best. A
    # CPU-bound model's two instances share one core and look no faster: never searched, its configured
    # setting stays its best.
    sleep, cpu = found.profile.models["synthetic-sleep"], found.profile.models["synthetic-cpu"]
    assert (sleep.shared_rps.value, sleep.best_rps.value, dict(sleep.best_setting)) == (
        74.375,
        110.0,
        {"instances": 2},
    )
    assert {label: p.total_rps for label, p in found.solo["synthetic-sleep"].items()} == {
        "defaults": 74.375,
        "instances=2": 110.0,
    }
    assert (cpu.shared_rps.value, cpu.best_rps.value, dict(cpu.best_setting)) == (462.5, 462.5, {})
    assert list(found.solo["synthetic-cpu"]) == ["defaults"]
    for key in keys[1:]:
        assert trials_of(rows, dedicated(exp, key, {"instances": 2}, 1, confirm=True), PEAK) == []
    # Fewer trials than searching every setting and then the best again.
    (tmp_path / "search").mkdir()
    search_found, _ = _profile(tmp_path / "search")
    assert len(rows) < len(Store(tmp_path / "search" / "results.db").trials(1))
    assert search_found.profile.models["synthetic-sleep"].best_rps.value == 110.0


def test_solo_by_look_is_sequential_only() -> None:
    with pytest.raises(ConfigError, match="solo_by: look is measured in order: sequential only"):
        parse_experiment(
            {
                "name": "p",
                "kind": "profile",
                "models": [FAST, CPU],
                **QUICK,
                "profile": {**SETTINGS, "solo_by": "look", "order": "interleaved", "blocks": 2},
            },
            "test",
        )
