"""Kind `profile` with `pairs: auto` over a model of a server (fake_server): only the pairs the fleet's plan
co-locates are searched, a resumed run chooses the same rounds from its stored trials without measuring,
and `perseus plan` plans from the profile, the pairs never measured predicted and flagged."""

from pathlib import Path

import pytest
import yaml

from perseus.config.plan import PlanFile
from perseus.core.errors import ConfigError
from perseus.experiments import profile
from perseus.experiments.analysis import trials_of
from perseus.experiments.fleet import fleet_of
from perseus.experiments.references import Source, check_experiment
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.planner.solve import answer
from perseus.report.kinds import profile as report
from perseus.store import Store
from tests.unit.fake_server import replay_session, run_on
from tests.unit.test_kinds import CPU, CPU2, FAST, QUICK

# λ alone on fake_server (test_profile_kind works them out): the sleeper 74.375 req/s, each CPU-bound
# model 462.5. Works: the sleeper 15/74.375 = 0.2017, synthetic-cpu 92.5/462.5 = 0.2, synthetic-cpu-2
# 300/462.5 = 0.6486. At the cautious κ 0.4 only sleeper + synthetic-cpu fits one machine (0.4017 + 0.4 ≤
# 1); synthetic-cpu-2 beside either is 0.85 + 0.4 > 1. Round 1's plan: {sleeper + synthetic-cpu},
# {synthetic-cpu-2}, 2 machines (3 alone). That pair measures e ≈ 2 on fake_server (the sleeper takes no
# CPU): κ ≈ −1, a gain. Round 2: all three on one machine would be 1.0503 + 0.4 + 0.4 − 0.2 (the gain,
# its slope 1 × the lesser work 0.2) = 1.65 > 1, and any other 2-machine plan puts synthetic-cpu-2 beside
# a model at 0.4: the same plan, no pair not measured. 1 pair of 3 searched.
FLEET = {
    "name": "fleet",
    "profiles": ["p"],
    "tenants": [
        {"name": "slow", "model": FAST, "rate": 15, "sla": "p95=100ms"},
        {"name": "light", "model": "synthetic-cpu", "rate": 92.5, "sla": "p95=100ms"},
        {"name": "heavy", "model": CPU2, "rate": 300, "sla": "p95=100ms"},
    ],
}
PAIRS = [
    ("synthetic-cpu", "synthetic-sleep"),
    ("synthetic-cpu", "synthetic-cpu-2"),
    ("synthetic-cpu-2", "synthetic-sleep"),
]


def _experiment(fleet: Path | None, pairs: object = "auto", repeats: int = 1) -> profile.Settings:
    section = {"machine": "gcp-n2-standard-2", "pairs": pairs, **({"fleet": str(fleet)} if fleet else {})}
    exp = parse_experiment(
        {
            "name": "p",
            "kind": "profile",
            "models": [FAST, CPU, CPU2],
            **QUICK,
            "repeats": repeats,
            "profile": section,
        },
        "test",
    )
    assert isinstance(exp, profile.Settings)
    return exp


def _measured_pairs(store: Store, run_id: int, exp: profile.Settings) -> dict[tuple[str, ...], int]:
    """Trials stored per pair searched (pairs with none left out)."""
    rows = store.trials(run_id)
    counts = {}
    for group in profile.groups(exp):
        found = len(trials_of(rows, group.where, profile.CAPACITY))
        if found:
            counts[tuple(sorted(group.shares))] = found
    return counts


def test_pairs_auto_searches_only_the_pairs_the_fleet_plan_needs(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(FLEET))
    store = Store(tmp_path / "results.db")
    exp = _experiment(fleet)
    run_id, phases = run_on(store, exp)
    counts = _measured_pairs(store, run_id, exp)
    assert list(counts) == [("synthetic-cpu", "synthetic-sleep")]
    # Against `pairs: true` in a store of its own: the same pair's search is the same trials (same key).
    every = _experiment(None, True)
    all_id, _ = run_on(Store(tmp_path / "all.db"), every)
    all_counts = _measured_pairs(Store(tmp_path / "all.db"), all_id, every)
    assert sorted(all_counts) == sorted(tuple(sorted(p)) for p in PAIRS)
    assert counts[("synthetic-cpu", "synthetic-sleep")] == all_counts[("synthetic-cpu", "synthetic-sleep")]
    assert sum(counts.values()) < sum(all_counts.values())
    assert any("pairs: auto: 1 of 3 pairs measured in 1 round(s)" in s for s in phases.said)

    results = experiment_results(store, run_id)
    found = results.findings
    assert isinstance(found, profile.Findings)
    (choice,) = found.choices
    assert [r.pairs for r in choice.rounds] == [(("synthetic-cpu", "synthetic-sleep"),), ()]
    assert [r.machines for r in choice.rounds] == [2, 2]
    assert choice.finished and choice.unplanned == ()
    pairs = [c for c in found.profile.colocations if len(c.models) == 2]
    assert [sorted(c.models) for c in pairs] == [["synthetic-cpu", "synthetic-sleep"]]
    assert pairs[0].efficiency.value == pytest.approx(2.0)

    # The report: every pair, measured in which round and why, or never needed; each round's plan.
    (table,) = [t for t in report.tables(found) if t.key == "pairs"]
    assert table.title == "Pairs measured (pairs: auto): 1 of 3"
    assert [[c.text for c in row] for row in table.rows] == [
        ["synthetic-cpu + synthetic-cpu-2", "1", "never needed", "no round's plan co-located it"],
        ["synthetic-cpu + synthetic-sleep", "1", "round 1", "co-located by round 1's plan"],
        ["synthetic-cpu-2 + synthetic-sleep", "1", "never needed", "no round's plan co-located it"],
    ]
    # 2 machines of gcp-n2-standard-2 at 0.097118 $/h: 0.194.
    assert table.notes[0].text == (
        "Plans (pairs not measured at κ 0.4): round 1: 2 machines, 0.194 $/h, measures "
        "synthetic-cpu+synthetic-sleep; round 2: 2 machines, 0.194 $/h, no pair not measured."
    )

    # The fleet file changed since: the rounds replayed now (every tenant at 3× its rate: each model
    # fills most of a machine, no two fit together) choose nothing, and the pair measured says so.
    heavier = {**FLEET, "tenants": [{**t, "rate": 3 * t["rate"]} for t in FLEET["tenants"]]}
    fleet.write_text(yaml.safe_dump(heavier))
    again = experiment_results(store, run_id).findings
    assert isinstance(again, profile.Findings) and [r.pairs for r in again.choices[0].rounds] == [()]
    (table,) = [t for t in report.tables(again) if t.key == "pairs"]
    assert [c.text for c in table.rows[1]] == [
        "synthetic-cpu + synthetic-sleep",
        "1",
        "measured",
        "no round replayed now chose it",
    ]
    fleet.unlink()  # gone: the report still reads, and says why it has no rounds
    gone = experiment_results(store, run_id)
    assert isinstance(gone.findings, profile.Findings) and gone.findings.choices == ()
    assert any("pairs: auto: the rounds cannot be replayed" in w for w in gone.warnings)
    fleet.write_text(yaml.safe_dump(FLEET))

    # Resumed: the rounds are chosen again from the stored trials, and nothing is measured
    # (replay_session raises on any trial not stored).
    assert run_on(store, exp, replay_session, run_id)[0] == run_id

    # `perseus plan` from this profile: the pairs with synthetic-cpu-2 were never measured, and a pair never
    # measured is at no less than the cautious κ the rounds took (least-squares pressures from the one
    # pair measured would say −0.5 − 0.5 → 0, and synthetic-cpu-2, in no measured pair, the worst measured,
    # max(0, −1) = 0: all three on one machine at 0.85, which the rounds never measured; before this rule,
    # that was the plan). So the plan is the last round's: 2 machines, no pair not measured together.
    plan = PlanFile.model_validate(FLEET)
    from_store = fleet_of(plan, store)
    assert from_store.notes == [
        f"profile run {run_id}: pairs: auto: 1 of 3 pairs measured (what its fleet's plan co-located); a "
        "machine holding a pair not measured has its κ predicted, and is flagged"
    ]
    planned = answer(from_store.problem)
    assert sorted(sorted(m.models) for m in planned.plan.machines) == [
        ["synthetic-cpu", "synthetic-sleep"],
        ["synthetic-cpu-2"],
    ]
    assert [m.flags for m in planned.plan.machines] == [(), ()]


def test_each_pass_chooses_its_pairs_from_its_own_measurements(tmp_path: Path) -> None:
    # Pass 2 runs fake_server 25% slower: λ alone 55 (sleeper) and 370 req/s (test_profile_kind), works
    # 15/55 = 0.27, 92.5/370 = 0.25, 300/370 = 0.81: sleeper + synthetic-cpu still fits at 0.4 (0.52 + 0.4),
    # synthetic-cpu-2 beside either does not: the same pair, under pass 2's own placement (repeat=2).
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(FLEET))
    store = Store(tmp_path / "results.db")
    exp = _experiment(fleet, repeats=2)
    run_id, _ = run_on(store, exp)
    rows = store.trials(run_id)
    for repeat in (1, 2):
        searched = [
            tuple(sorted(g.shares))
            for g in profile.groups(exp, repeat)
            if trials_of(rows, g.where, profile.CAPACITY)
        ]
        assert searched == [("synthetic-cpu", "synthetic-sleep")]
    found = experiment_results(store, run_id).findings
    assert isinstance(found, profile.Findings)
    assert [c.measured for c in found.choices] == [{("synthetic-cpu", "synthetic-sleep"): 1}] * 2


def test_pairs_auto_needs_a_fleet_and_a_fleet_needs_pairs_auto(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pairs: auto needs a fleet"):
        _experiment(None)
    with pytest.raises(ConfigError, match="pairs: auto needs a fleet"):
        _experiment(tmp_path / "fleet.yaml", True)
    with pytest.raises(ConfigError, match="pairs: auto is measured in order: sequential only"):
        parse_experiment(
            {
                "name": "p",
                "kind": "profile",
                "models": [FAST, CPU],
                "profile": {
                    "machine": "gcp-n2-standard-2",
                    "pairs": "auto",
                    "fleet": str(tmp_path / "fleet.yaml"),
                    "order": "interleaved",
                    "blocks": 2,
                },
            },
            "test",
        )
    # Without a fleet the stored spec is as before the setting existed (older runs resume).
    assert "fleet" not in _experiment(None, True).model_dump(mode="json")["profile"]


def test_a_fleet_naming_a_model_not_profiled_is_refused_before_measuring(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        yaml.safe_dump({**FLEET, "tenants": [{"model": "resnet50", "rate": 1, "sla": "p95=100ms"}]})
    )
    # Said when the run's references are resolved (nothing stored, no server started), naming the key.
    with pytest.raises(ConfigError) as caught:
        check_experiment(_experiment(fleet), Source("p.yaml"))
    assert str(caught.value).startswith("p.yaml: profile.fleet: the fleet's tenants name resnet50")
    assert "not among the profile's models" in str(caught.value)
    # And by the kind itself, before it measures anything (a run resumed past the check, a fake lab).
    store = Store(tmp_path / "results.db")
    with pytest.raises(ConfigError, match="resnet50, not among the profile's models"):
        run_on(store, _experiment(fleet))
    (run,) = store.runs()
    assert store.trials(run.id) == []
    with pytest.raises(ConfigError, match=r"p\.yaml: profile\.fleet: cannot read"):
        check_experiment(_experiment(tmp_path / "missing.yaml"), Source("p.yaml"))


def test_auto_sets_measures_a_planned_machine_of_three_as_one_set(tmp_path: Path) -> None:
    # Works 10/74.375 = 0.134 (sleeper), 50/462.5 = 0.108 each CPU-bound model: at the cautious κ 0.4 all
    # three on one machine (0.35 + 0.4 ≤ 1). auto_sets: round 1 measures that machine's set, not its 3
    # pairs; round 2 reads every pair of it from the set: the same machine, nothing more to measure.
    light = {
        **FLEET,
        "tenants": [{**t, "rate": r} for t, r in zip(FLEET["tenants"], (10, 50, 50), strict=True)],
    }
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(light))
    store = Store(tmp_path / "results.db")
    base = _experiment(fleet)
    exp = parse_experiment(
        {
            **base.model_dump(mode="json"),
            "profile": {**base.profile.model_dump(mode="json"), "auto_sets": True},
        },
        "test",
    )
    assert isinstance(exp, profile.Settings)
    run_id, phases = run_on(store, exp)
    trio = ("synthetic-cpu", "synthetic-cpu-2", "synthetic-sleep")
    assert _measured_pairs(store, run_id, exp) == {}  # no pair searched
    (group,) = profile.chosen_sets(exp, store.trials(run_id), 1)
    assert tuple(sorted(group.shares)) == trio and trials_of(
        store.trials(run_id), group.where, profile.CAPACITY
    )
    said = "pairs: auto: 0 of 3 pairs measured, and 1 set(s) of 3+ (holding 3 more pairs) in 1 round(s)"
    assert any(said in s for s in phases.said)

    found = experiment_results(store, run_id).findings
    assert isinstance(found, profile.Findings)
    (choice,) = found.choices
    assert choice.measured == {trio: 1} and choice.finished
    assert [tuple(sorted(c.models)) for c in found.profile.colocations] == [trio]
    (table,) = [t for t in report.tables(found) if t.key == "pairs"]
    assert table.title == "Pairs measured (pairs: auto): 3 of 3"
    assert [c.text for c in table.rows[0]] == [
        "synthetic-cpu + synthetic-cpu-2",
        "1",
        "round 1",
        "co-located by round 1's plan, measured in the set synthetic-cpu+synthetic-cpu-2+synthetic-sleep",
    ]
    # Resumed: the same rounds from the stored trials, nothing measured (replay_session raises on any).
    assert run_on(store, exp, replay_session, run_id)[0] == run_id

    # `perseus plan`: the three on one machine, each pair's κ from the set, and said so.
    planned = answer(fleet_of(PlanFile.model_validate(light), store).problem)
    (machine,) = planned.plan.machines
    assert sorted(machine.models) == sorted(trio)
    assert machine.flags == (
        "pair measured only inside a set, κ from the set: "
        + ", ".join(f"{a}+{b}" for a, b in [trio[:2], (trio[0], trio[2]), trio[1:]]),
    )
