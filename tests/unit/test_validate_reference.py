"""A validation's look at the host's speed is taken at the setting the plan serves each model at: alone at
its best on a machine of its own (one CPU lost halves what two instances serve, where one request at a
time as configured may barely notice it), as configured where it shares one; and compared with the
profile's look at that same setting. Over a model of a server (fake_server)."""

from pathlib import Path

import pytest

from perseus.config.plan import PlanFile
from perseus.experiments import deploy
from perseus.experiments.fleet import fleet_of
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.experiments.speed import profiled_looks, setting_key
from perseus.experiments.validation import deploy_experiment
from perseus.planner.solve import answer
from perseus.store import Store
from tests.unit.fake_server import CONFIRM_SLOWDOWN, drifting_session, run_on
from tests.unit.test_kinds import CPU, FAST, QUICK

MACHINE = "gcp-n2-standard-2"
SLEEP = "synthetic-sleep"  # FAST: 10 ms a request, closed loop 100 req/s an instance on fake_server


def _profiled(tmp_path: Path) -> tuple[Store, list[int]]:
    store = Store(tmp_path / "results.db")
    exp = parse_experiment(
        {
            "name": "p",
            "kind": "profile",
            "models": [FAST, CPU],
            **QUICK,
            "profile": {"machine": MACHINE, "solo": [{"instances": 2}]},
        },
        "test",
    )
    run_id, _ = run_on(store, exp)
    return store, [run_id]


def _deploy(store: Store, tenants: list[dict[str, object]]) -> deploy.Settings:
    plan = PlanFile.model_validate({"name": "f", "profiles": ["p"], "validate_s": 2, "tenants": tenants})
    fleet = fleet_of(plan, store)
    planned = answer(fleet.problem).plan
    looks = profiled_looks(store, fleet.runs[MACHINE])
    exp = deploy_experiment(plan, fleet, planned, "aware", MACHINE, looks)
    assert exp is not None
    return exp


def test_the_profile_looked_at_each_setting_it_searched(tmp_path: Path) -> None:
    store, runs = _profiled(tmp_path)
    looks = profiled_looks(store, runs)
    # fake_server's closed loop serves instances / service time: 1 and 2 instances of a 10 ms sleeper;
    # 2 instances, chosen as its best, were searched again (and looked at again) on a fresh server, which
    # fake_server runs CONFIRM_SLOWDOWN slower: the look the profile's best λ comes from is that one.
    assert looks[SLEEP] == {
        setting_key(None): pytest.approx(100.0),
        setting_key({"instances": 2}): pytest.approx(200.0 / CONFIRM_SLOWDOWN),
    }
    assert setting_key({}) == setting_key(None)


def test_a_model_alone_at_its_best_is_looked_at_there(tmp_path: Path) -> None:
    store, _ = _profiled(tmp_path)
    # 100 req/s: more than one instance serves at p95 ≤ 100 ms (74 req/s), one machine at 2 instances (its
    # best: 110 req/s as confirmed).
    exp = _deploy(store, [{"name": "big", "model": SLEEP, "rate": 100, "sla": "p95=100ms"}])
    (machine,) = exp.deploy.machines
    assert machine.knobs == {SLEEP: {"instances": 2}}
    assert exp.deploy.reference_knobs == {SLEEP: {"instances": 2}}
    assert exp.deploy.reference == {SLEEP: pytest.approx(200.0 / CONFIRM_SLOWDOWN)}
    assert "instances" in exp.looked_at(SLEEP).label()

    # Measured on a host half as fast as the confirmation's server: the look is at 2 instances.
    run_id, phases = run_on(store, exp, drifting_session([2.0 * CONFIRM_SLOWDOWN]))
    assert phases.labels[0] == exp.looked_at(SLEEP).label()
    found = experiment_results(store, run_id).findings
    assert isinstance(found, deploy.Findings)
    assert found.speed == {SLEEP: pytest.approx(0.5)}


def test_a_model_that_shares_a_machine_is_looked_at_as_configured(tmp_path: Path) -> None:
    store, _ = _profiled(tmp_path)
    tenants = [
        {"name": "s", "model": SLEEP, "rate": 10, "sla": "p95=100ms"},
        {"name": "c", "model": "synthetic-cpu", "rate": 10, "sla": "p95=100ms"},
    ]
    exp = _deploy(store, tenants)
    (machine,) = exp.deploy.machines
    assert machine.knobs == {} and exp.deploy.reference_knobs == {}
    assert exp.deploy.reference[SLEEP] == pytest.approx(100.0)
    assert set(exp.deploy.reference) == {SLEEP, "synthetic-cpu"}


def test_a_stored_validation_without_reference_knobs_still_reads() -> None:
    """A deploy run stored before reference_knobs existed looks at every model as configured."""
    exp = parse_experiment(
        {
            "name": "v",
            "kind": "deploy",
            "models": [SLEEP],
            "sla": "p95=100ms",
            "deploy": {
                "machines": [
                    {
                        "type": MACHINE,
                        "tenants": [{"name": "t", "model": SLEEP, "rate": 5, "sla": "p95=100ms"}],
                        "predicted_load": 0.1,
                    }
                ],
                "reference": {SLEEP: 100.0},
            },
        },
        "test",
    )
    assert isinstance(exp, deploy.Settings)
    assert exp.deploy.reference_knobs == {} and "instances" not in exp.looked_at(SLEEP).label()
