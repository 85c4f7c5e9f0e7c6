"""`plan --validate`'s verdict on hand-made stored rows: each planned tenant judged against its own SLA
(deploy._check through deploy.analyze), the validation held, missed or could not be judged
(Findings.verdict), and the recommended plan's verdict read apart from the interference-blind plan's
(planning.Planned.verdict), and a blind plan that differs measured beside it (planning._validate)."""

import dataclasses
import shutil
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest

from perseus.config.plan import load_plan
from perseus.core.errors import ConfigError
from perseus.core.progress import NullReporter
from perseus.core.reasons import Reason, Why
from perseus.experiments import deploy
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import ExperimentResults
from perseus.orchestrate import planning
from perseus.orchestrate.planning import AWARE, BLIND, Planned
from perseus.store import Store, TrialKey, TrialRow, TrialSummary
from tests.unit.fake_server import run_on
from tests.unit.test_plan_cli import _plan
from tests.unit.trial_rows import summary_of

planning_answer = planning.answer

SLEEP, CPU = "synthetic-sleep", "synthetic-cpu"
LATE = Reason(Why.GENERATOR_BEHIND, "generator fell behind: 3.0% of sends were more than 2 ms late")
UNSTABLE = Reason(Why.UNSTABLE, "unstable: the last 3 windows differ")


def _exp() -> deploy.Settings:
    """Machine 1: two tenants of one model with different SLAs (40 + 10 req/s); machine 2: one tenant. The
    model's served SLA is its strictest tenant's (p95=50ms), as fleet.deploy_experiment writes it."""
    exp = parse_experiment(
        {
            "name": "validate",
            "kind": "deploy",
            "models": [SLEEP, CPU],
            "sla": {SLEEP: "p95=50ms", CPU: "p95=100ms"},
            "deploy": {
                "plan": "fleet",
                "machines": [
                    {
                        "type": "gcp-n2-standard-2",
                        "tenants": [
                            {"name": "strict", "model": SLEEP, "rate": 40, "sla": "p95=50ms"},
                            {"name": "loose", "model": SLEEP, "rate": 10, "sla": "p95=200ms"},
                        ],
                        "predicted_load": 0.6,
                    },
                    {
                        "type": "gcp-n2-standard-2",
                        "tenants": [{"name": "solo", "model": CPU, "rate": 20, "sla": "p95=100ms"}],
                        "predicted_load": 0.3,
                    },
                ],
            },
        },
        "test",
    )
    assert isinstance(exp, deploy.Settings)
    return exp


def _row(
    exp: deploy.Settings,
    index: int,
    latencies_ms: list[float],
    served_rps: float,
    attempt: int = 0,
    status: str = "valid",
    reasons: tuple[Reason, ...] = (),
) -> TrialRow:
    """Attempt `attempt` of machine `index`'s validation trial: its one model's latencies as a trial
    summarises them (under the model's served SLA), serving `served_rps` in all."""
    where, _ = deploy.server_of(exp, index)
    (name,) = where.names
    total = sum(t.rate for t in exp.deploy.machines[index].tenants)
    key = TrialKey(where, deploy.VALIDATE, {}, {name: total}, attempt)
    sla = exp.sla_of(where.model_of(name)).label
    summary = {**summary_of(latencies_ms, sla, name), "throughput_rps": served_rps}
    trial_id = 10 * index + attempt + 1
    return TrialRow(
        trial_id, 1, key.name(), {"key": key.to_json()}, status, reasons, TrialSummary({name: summary})
    )


# 100 latencies: 95 at 40 ms and 5 at 300 ms, so p95 (the 95th smallest) is 40 ms; or all at 80 ms.
FAST_MS = [40.0] * 95 + [300.0] * 5
SLOW_MS = [80.0] * 100


def _checks(rows: list[TrialRow]) -> tuple[deploy.Findings, dict[str, deploy.TenantCheck]]:
    found = deploy.analyze(_exp(), rows, [])
    return found, {t.name: t for m in found.machines for t in m.tenants}


def test_every_tenant_within_its_sla_held() -> None:
    exp = _exp()
    found, checks = _checks([_row(exp, 0, FAST_MS, 50.0), _row(exp, 1, FAST_MS, 20.0)])
    assert found.verdict == "held" and found.met
    assert checks["strict"].latency_ms == pytest.approx(40.0, rel=1e-3)  # HDR: 3 significant digits
    # Each tenant's share of its model's served rate: 50 × 40/50 and 50 × 10/50.
    assert (checks["strict"].served_rps, checks["loose"].served_rps) == pytest.approx((40.0, 10.0))
    assert all(c.met and c.why == "ok" and not c.doubt for c in checks.values())


def test_one_models_tenants_are_judged_each_against_its_own_sla() -> None:
    """Both tenants see the model's 80 ms: the one at p95=50ms missed, the one at p95=200ms met, though the
    trial's stored verdict (under the strictest SLA) is a miss for the model."""
    exp = _exp()
    found, checks = _checks([_row(exp, 0, SLOW_MS, 50.0), _row(exp, 1, FAST_MS, 20.0)])
    assert checks["strict"].latency_ms == checks["loose"].latency_ms == pytest.approx(80.0, rel=1e-3)
    assert not checks["strict"].met and not checks["strict"].doubt
    assert checks["strict"].why == "p95 ≤ 50 ms missed (80.0 ms)"
    assert checks["loose"].met and checks["loose"].why == "ok"
    assert found.verdict == "missed" and [t.name for t in found.missed] == ["strict"]


def test_late_sends_in_every_attempt_are_a_doubt_not_a_miss() -> None:
    """Within its SLA on both attempts, but the host held back the generator's sends each time: not met,
    and in doubt (the measurement's fault, not the plan's); the validation could not be judged."""
    exp = _exp()
    late = [_row(exp, 1, FAST_MS, 20.0, a, "invalid", (LATE,)) for a in (0, 1)]
    found, checks = _checks([_row(exp, 0, FAST_MS, 50.0), *late])
    solo = checks["solo"]
    assert not solo.met and solo.doubt and "generator fell behind" in solo.why
    assert found.verdict == "unjudged"


def test_a_doubt_measured_again_is_judged_on_both_attempts() -> None:
    """The first attempt late, the second clean: judged together (as a probe), the tenant met its SLA; its
    served rate is the mean of the attempts' (20 and 16 req/s: 18)."""
    exp = _exp()
    rows = [_row(exp, 1, FAST_MS, 20.0, 0, "invalid", (LATE,)), _row(exp, 1, FAST_MS, 16.0, 1)]
    found, checks = _checks([_row(exp, 0, FAST_MS, 50.0), *rows])
    assert checks["solo"].met and checks["solo"].served_rps == pytest.approx(18.0)
    assert found.verdict == "held"


def test_a_miss_outweighs_a_doubt_elsewhere() -> None:
    exp = _exp()
    late = [_row(exp, 1, FAST_MS, 20.0, a, "invalid", (LATE,)) for a in (0, 1)]
    found, _ = _checks([_row(exp, 0, SLOW_MS, 50.0), *late])
    assert found.verdict == "missed"


def test_a_machine_not_measured_cannot_be_judged() -> None:
    exp = _exp()
    found, checks = _checks([_row(exp, 0, FAST_MS, 50.0)])
    assert checks["solo"].why == "not measured" and not found.machines[1].measured
    assert found.verdict == "unjudged"


def test_unstable_windows_alone_do_not_unjudge_a_validation() -> None:
    """Windows that disagree on both attempts (retries ran out in doubt) flag the trial; each tenant is
    still judged on the latencies of both, which met its SLA."""
    exp = _exp()
    shaky = [_row(exp, 1, FAST_MS, 20.0, a, "invalid", (UNSTABLE,)) for a in (0, 1)]
    found, checks = _checks([_row(exp, 0, FAST_MS, 50.0), *shaky])
    assert checks["solo"].met and found.verdict == "held"


def _results(label: str, verdict_rows: list[TrialRow]) -> ExperimentResults:
    exp = _exp()
    found = deploy.analyze(exp, verdict_rows, [])
    return ExperimentResults(1, f"fleet ({label})", "deploy", "done", None, {}, {}, {}, found)


@pytest.mark.parametrize(
    ("aware", "blind", "verdict"),
    [("fast", "slow", "held"), ("slow", "fast", "missed"), ("fast", None, "held")],
    ids=["blind-missed", "aware-missed", "blind-same-as-aware"],
)
def test_the_verdict_is_the_recommended_plans_never_the_blind_ones(
    aware: str, blind: str | None, verdict: str
) -> None:
    """When the interference-blind plan differs, it is validated too, but `plan --validate` exits on the
    recommended (interference-aware) plan's verdict, whichever order they were measured in."""
    exp = _exp()
    latencies = {"fast": FAST_MS, "slow": SLOW_MS}

    def results(which: str) -> ExperimentResults:
        rows = [_row(exp, 0, latencies[which], 50.0), _row(exp, 1, FAST_MS, 20.0)]
        return _results(which, rows)

    validated = [(BLIND, results(blind))] if blind is not None else []
    planned: Any = Planned(None, None, None, [*validated, (AWARE, results(aware))])  # type: ignore[arg-type]
    assert planned.verdict == verdict
    assert dataclasses.replace(planned, validated=[]).verdict is None  # not validated here


def _validated(
    tmp_path: Path, profiled: Path, monkeypatch: pytest.MonkeyPatch, blind_rps: float | None
) -> tuple[Planned, list[str]]:
    """`plan --validate` over the profile measured on fake_server, each deploy run on fake_server too; the
    interference-blind plan replaced by the aware one with `blind_rps` of tenant big alone on its first
    machine (None: the blind plan is the aware one)."""

    def solved(*args: Any, **kwargs: Any) -> Any:
        found = planning_answer(*args, **kwargs)
        if blind_rps is None:
            return dataclasses.replace(found, blind=found.plan)
        first, *rest = found.plan.machines
        assert first.tenants == {"big": 74.375}  # test_plan_cli: the sleeper's first full machine
        alone = dataclasses.replace(first, tenants={"big": blind_rps}, models={SLEEP: blind_rps})
        return dataclasses.replace(found, blind=dataclasses.replace(found.plan, machines=(alone, *rest)))

    def measured(experiment: Any, store: Store, *args: Any, **kwargs: Any) -> int:
        return run_on(store, experiment)[0]

    monkeypatch.setattr(planning, "answer", solved)
    monkeypatch.setattr(planning, "run_experiment", measured)
    db = tmp_path / "results.db"
    shutil.copyfile(profiled, db)
    with Store(db) as store:
        planned = planning.plan_fleet(
            load_plan(_plan(tmp_path)),
            store,
            validation=planning.Validation(lambda: nullcontext(NullReporter()), "gcp-n2-standard-2"),
        )
    return planned, [label for label, _ in planned.validated]


def test_a_blind_plan_that_differs_is_measured_too_and_never_decides(
    tmp_path: Path, profiled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blind plan puts big at 90 req/s alone on one sleeper (fake_server: ρ = 0.9, p95 = 10(1 + 3 ×
    0.9/0.1) = 280 ms, past its 100 ms) and misses; the aware plan's heaviest machine, big at 74.375 (p95
    = 10(1 + 3 × 0.74375/0.25625) = 97.1 ms), holds: both measured, the verdict is the aware plan's."""
    planned, labels = _validated(tmp_path, profiled, monkeypatch, 90.0)
    assert labels == [AWARE, BLIND]
    verdicts = {label: results.findings.verdict for label, results in planned.validated}
    assert verdicts == {AWARE: "held", BLIND: "missed"}
    (blind,) = [r.findings for label, r in planned.validated if label == BLIND]
    assert [(t.name, round(t.latency_ms, 1)) for t in blind.missed] == [("big", 280.0)]
    assert planned.verdict == "held"


def test_a_blind_plan_like_the_aware_one_is_measured_once(
    tmp_path: Path, profiled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned, labels = _validated(tmp_path, profiled, monkeypatch, None)
    assert labels == [AWARE] and planned.verdict == "held"


def test_a_machine_naming_a_model_the_experiment_lacks_is_one_line() -> None:
    """A tenant's model is one of the experiment's keys, not its spec: naming the spec used to end in a
    KeyError from deep inside the run; now the file is refused before anything is measured."""
    good = _exp().model_dump(mode="json")
    bad = {**good, "deploy": {**good["deploy"], "machines": [dict(good["deploy"]["machines"][1])]}}
    bad["deploy"]["machines"][0]["tenants"] = [
        {"name": "x", "model": f"{CPU}:dim=8", "rate": 1, "sla": "p95=1s"}
    ]
    with pytest.raises(ConfigError, match=r"^f.yaml: deploy.machines.0: unknown model .*; the experiment"):
        parse_experiment(bad, "f.yaml")
    reference = {**good, "deploy": {**good["deploy"], "reference": {"nope": 1.0}}}
    with pytest.raises(ConfigError, match=r"deploy.reference: unknown model 'nope'"):
        parse_experiment(reference, "f.yaml")
