"""The fleet plan workflow behind `perseus plan`: the stored profiles a plan names, the plan (and the
baselines and interference-blind plan beside it), the capacity model's checks, and with validation, each
plan deployed on this host's embedded server after the host's speed is measured again; when the host is
slower than profiled and the plan did not hold, the fleet re-planned for today's speed and that measured
too."""

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

from perseus.config.experiment import ExperimentBase
from perseus.config.plan import PlanFile
from perseus.core.progress import Reporter
from perseus.experiments import deploy
from perseus.experiments import profile as profile_kind
from perseus.experiments.deploy import Verdict
from perseus.experiments.fleet import Fleet, at_speed, fleet_of, slowed_lambdas
from perseus.experiments.references import Source
from perseus.experiments.results import RUN_KIND, ExperimentResults, experiment_results
from perseus.experiments.speed import profiled_looks
from perseus.experiments.validation import (
    deploy_experiment,
    host_type,
    lambda_then,
    lambdas_experiment,
    served,
)
from perseus.orchestrate.runner import run_experiment
from perseus.planner.capacity import Checks, prediction_checks
from perseus.planner.problem import Plan
from perseus.planner.solve import Answer, answer
from perseus.store import Store

AWARE = "interference-aware"
BLIND = "interference-blind"
REPLANNED = "re-planned for today's speed"
Method = Literal["auto", "milp", "greedy"]


@dataclass(frozen=True)
class Replanned:
    """The fleet planned again for the host's speed a validation measured (`speed`: the median over the
    models measured alone of their closed-loop rate now over the profile's); each model's λ now over as
    profiled (`factors`): its λ alone searched again now where it was (`lambdas_now`), else slowed by its
    own look."""

    speed: float
    answer: Answer
    factors: dict[str, float] = field(default_factory=dict)  # per model: its λ now / as profiled
    lambdas_now: dict[str, float] = field(default_factory=dict)  # per model: λ alone searched now


@dataclass
class Planned:
    fleet: Fleet
    answer: Answer
    checks: Checks
    validated: list[tuple[str, ExperimentResults]] = field(default_factory=list)  # (which plan, its run)
    replanned: Replanned | None = None

    @property
    def notes(self) -> list[str]:
        return self.fleet.notes

    def verdict_of(self, label: str) -> Verdict | None:
        found = [r.findings for which, r in self.validated if which == label]
        return found[0].verdict if found and isinstance(found[0], deploy.Findings) else None

    @property
    def verdict(self) -> Verdict | None:
        """The recommended plan's validation: held, missed or unjudged (None: not validated here). When
        the fleet was re-planned for today's speed and that plan measured, it is the one recommended."""
        replanned = self.verdict_of(REPLANNED)
        return replanned if replanned is not None else self.verdict_of(AWARE)


@dataclass(frozen=True)
class Validation:
    """How to validate: on which machine type (None: the one profiled here), reported how, on Ray or not."""

    reporter: Callable[[], AbstractContextManager[Reporter]]
    machine: str | None = None
    source: Source = field(default_factory=lambda: Source("plan"))
    require_quiet_host: bool = False
    ray: str | None = None
    fresh: bool = False  # measure again even where this plan was validated before

    def run(self, experiment: ExperimentBase, store: Store) -> int:
        """Run (or find) one of the validation's experiments, as asked; its run id."""
        with self.reporter() as reporter:
            return run_experiment(
                experiment,
                store,
                reporter,
                fresh=self.fresh,
                source=self.source,
                require_quiet_host=self.require_quiet_host,
                ray=self.ray,
            )


def plan_fleet(
    spec: PlanFile,
    store: Store,
    extrapolate: str | None = None,
    method: Method | None = None,
    validation: Validation | None = None,
) -> Planned:
    """Plan the fleet from its stored profiles; with `validation`, measure the plan (and the blind one when
    it differs) on this host's embedded server, each as a `deploy` run, the host's speed first; and when
    the host is slower than profiled by more than deploy.DRIFT and the plan did not hold, plan the fleet
    again for that speed and measure that plan too."""
    fleet = fleet_of(spec, store, extrapolate)
    solve = partial(answer, method=method or spec.method, time_limit_s=spec.time_limit_s)
    found = solve(fleet.problem)
    checked = prediction_checks(p for p in fleet.profiles.values() if not p.extrapolated_from)
    planned = Planned(fleet, found, checked)
    if validation is None:
        return planned
    host = host_type(fleet, store, validation.machine)
    measure = partial(_measured, spec, store, fleet, host, validation)
    looks = profiled_looks(store, fleet.runs[host])
    if (aware := measure(AWARE, found.plan, looks)) is not None:
        planned.validated.append(aware)
        speed, each = _speed(aware[1])
        if speed is not None and speed < 1 - deploy.DRIFT and planned.verdict_of(AWARE) != "held":
            factors = slowed_lambdas(fleet, host, each, speed)
            now = _lambdas_now(spec, store, fleet, host, found.plan, validation)
            factors.update(now.factors)
            again = solve(at_speed(spec, fleet, host, factors, extrapolate).problem)
            planned.replanned = Replanned(speed, again, factors, now.lambdas)
            if layout(again.plan) == layout(found.plan):
                fleet.notes.append(
                    f"--validate: re-planned for the host's speed now ({speed:.2f}× the profile's): the same "
                    "machines"
                )
            elif (measured := measure(REPLANNED, again.plan, {})) is not None:
                planned.validated.append(measured)
    differs = layout(found.blind) != layout(found.plan)  # the same machines need measuring once
    if differs and (blind := measure(BLIND, found.blind, {} if planned.validated else looks)) is not None:
        planned.validated.append(blind)
    if not planned.validated:
        fleet.notes.append(
            f"--validate: no planned machine is of this host's type ({host}): nothing measured"
        )
    return planned


@dataclass(frozen=True)
class _Now:
    lambdas: dict[str, float]  # per model: λ alone now, at the setting the plan serves it at
    factors: dict[str, float]  # per model: that over its λ as profiled there, never above 1


def _lambdas_now(
    spec: PlanFile, store: Store, fleet: Fleet, host: str, plan: Plan, how: "Validation"
) -> _Now:
    """Each model the plan serves here, its λ alone searched again now at the setting the plan serves it
    at (a profile run): how much slower the host is for it, measured as the plan is judged, not inferred
    from a short closed-loop look (on one core two single-threaded instances lost far more open-loop
    capacity than their look said: docs/results.md, stop 32). A model no rate serves within its SLA now
    keeps its look's factor (and its machine will say so)."""
    experiment = lambdas_experiment(spec, fleet, plan, host)
    if experiment is None:
        return _Now({}, {})
    run_id = how.run(experiment, store)
    found = experiment_results(store, run_id).findings
    if not isinstance(found, profile_kind.Findings):
        return _Now({}, {})
    setting = served(fleet, plan, host).setting
    profile = fleet.profiles[host]
    lambdas = {k: m.shared_rps.value for k, m in found.profile.models.items() if k in setting}
    factors = {k: min(1.0, lam / lambda_then(profile, k, setting[k])) for k, lam in lambdas.items()}
    return _Now(lambdas, factors)


def _speed(results: ExperimentResults) -> tuple[float | None, dict[str, float]]:
    """The host's speed a validation measured first (deploy.Findings.host_ratio), and each model's."""
    found = results.findings
    return (found.host_ratio, found.speed) if isinstance(found, deploy.Findings) else (None, {})


def _measured(
    spec: PlanFile,
    store: Store,
    fleet: Fleet,
    host: str,
    how: Validation,
    label: str,
    plan: Plan,
    looks: Mapping[str, Mapping[str, float]],
) -> tuple[str, ExperimentResults] | None:
    """The plan's machines of the host's type deployed and measured as a `deploy` run (None: it has none
    of this type); `looks`: the models whose closed-loop rate alone is measured first, and the profile's
    (per setting: speed.profiled_looks)."""
    experiment = deploy_experiment(spec, fleet, plan, label, host, looks)
    if experiment is None:
        return None
    before = store.find_run(RUN_KIND, experiment.model_dump(mode="json"))
    run_id = how.run(experiment, store)
    if not how.fresh and before is not None and before.id == run_id and before.status == "done":
        fleet.notes.append(
            f"--validate: the {label} plan was validated before as run {run_id}: its measurements are "
            "reported again (plan --validate --fresh measures it again)"
        )
    return label, experiment_results(store, run_id)


def layout(plan: Plan) -> list[tuple[str, list[tuple[str, float]]]]:
    """A plan's machines as comparable values: two plans with equal layouts need measuring once."""
    return sorted((m.type, sorted(m.tenants.items())) for m in plan.machines)
