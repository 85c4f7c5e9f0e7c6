"""A validation measures the host's speed first (each reference model alone, a short closed loop) against
the profile's, and says when the host is slower or faster than the plan assumed."""

from perseus.experiments import deploy
from perseus.experiments.placements import ESTIMATE, dedicated
from perseus.experiments.registry import parse_experiment
from tests.unit.trial_rows import feasible_row


def _deploy(reference: dict[str, float]) -> deploy.Settings:
    exp = parse_experiment(
        {
            "name": "validate",
            "kind": "deploy",
            "models": ["synthetic-sleep", "synthetic-cpu"],
            "sla": "p95=100ms",
            "deploy": {
                "machines": [
                    {
                        "type": "gcp-n2-standard-2",
                        "tenants": [{"name": "t", "model": "synthetic-sleep", "rate": 5, "sla": "p95=100ms"}],
                        "predicted_load": 0.5,
                    }
                ],
                "reference": reference,
            },
        },
        "test",
    )
    assert isinstance(exp, deploy.Settings)
    return exp


def _looks(exp: deploy.Settings, now: dict[str, float]) -> list:  # type: ignore[type-arg]
    rows = []
    for index, (key, rate) in enumerate(now.items()):
        where = dedicated(exp, key)
        (name,) = where.names
        rows.append(feasible_row(index + 1, where, ESTIMATE, {key: rate}, tenant=name))
    return rows


def test_reference_models_are_measured_first() -> None:
    exp = _deploy({"synthetic-sleep": 100.0, "synthetic-cpu": 50.0})
    phases = deploy.plan(exp)
    assert phases[:2] == [dedicated(exp, "synthetic-sleep").label(), dedicated(exp, "synthetic-cpu").label()]
    assert len(phases) == 3


def test_a_slower_host_is_said() -> None:
    exp = _deploy({"synthetic-sleep": 100.0, "synthetic-cpu": 50.0})
    warnings: list[str] = []
    found = deploy.analyze(exp, _looks(exp, {"synthetic-sleep": 60.0, "synthetic-cpu": 30.0}), warnings)
    assert found.speed == {"synthetic-sleep": 0.6, "synthetic-cpu": 0.6}
    assert any("0.60× the closed-loop rate it did when profiled" in w and "slower" in w for w in warnings)


def test_a_host_as_fast_as_profiled_is_not_said() -> None:
    exp = _deploy({"synthetic-sleep": 100.0})
    warnings: list[str] = []
    found = deploy.analyze(exp, _looks(exp, {"synthetic-sleep": 95.0}), warnings)
    assert found.speed == {"synthetic-sleep": 0.95} and not any("profiled" in w for w in warnings)
    assert deploy.analyze(_deploy({}), [], []).speed == {}


def _check(met: bool, doubt: bool = False) -> deploy.TenantCheck:
    return deploy.TenantCheck("t", "m", 10.0, "p95=80ms", 10.0, 50.0, 1.0, met, "ok", doubt)


def test_a_validation_is_held_missed_or_not_judged() -> None:
    """held: every tenant met its SLA; missed: a latency missed one (whatever else is in doubt);
    unjudged: none missed, but a tenant was in doubt or a machine was not measured."""

    def found(*machines: tuple[list[deploy.TenantCheck], bool]) -> deploy.Findings:
        return deploy.Findings("p", [deploy.Deployed(i, "t", 0.5, c, m) for i, (c, m) in enumerate(machines)])

    assert found(([_check(True)], True)).verdict == "held"
    assert found(([_check(True), _check(False)], True)).verdict == "missed"
    assert found(([_check(False, doubt=True)], True), ([_check(False)], True)).verdict == "missed"
    assert found(([_check(True), _check(False, doubt=True)], True)).verdict == "unjudged"
    assert found(([_check(True)], True), ([_check(True)], False)).verdict == "unjudged"
    assert found(([_check(True)], True), ([_check(False)], False)).verdict == "unjudged"  # not measured
