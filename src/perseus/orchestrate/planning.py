"""The fleet plan workflow behind `perseus plan`: the stored profiles a plan names, the plan (and the
baselines and interference-blind plan beside it), the capacity model's checks, and with validation, each
plan deployed on this host's embedded server after the host's speed is measured again."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal

from perseus.config.plan import PlanFile
from perseus.core.progress import Reporter
from perseus.experiments.fleet import Fleet, deploy_experiment, fleet_of, host_type, profiled_speed
from perseus.experiments.references import Source
from perseus.experiments.results import ExperimentResults, experiment_results
from perseus.orchestrate.runner import run_experiment
from perseus.planner.capacity import Checks, prediction_checks
from perseus.planner.problem import Plan
from perseus.planner.solve import Answer, answer
from perseus.store import Store

AWARE = "interference-aware"
BLIND = "interference-blind"
Method = Literal["auto", "milp", "greedy"]


@dataclass
class Planned:
    fleet: Fleet
    answer: Answer
    checks: Checks
    validated: list[tuple[str, ExperimentResults]] = field(default_factory=list)  # (which plan, its run)

    @property
    def notes(self) -> list[str]:
        return self.fleet.notes


@dataclass(frozen=True)
class Validation:
    """How to validate: on which machine type (None: the one profiled here), reported how, on Ray or not."""

    reporter: Callable[[], AbstractContextManager[Reporter]]
    machine: str | None = None
    source: Source = field(default_factory=lambda: Source("plan"))
    require_quiet_host: bool = False
    ray: str | None = None


def plan_fleet(
    spec: PlanFile,
    store: Store,
    extrapolate: str | None = None,
    method: Method | None = None,
    validation: Validation | None = None,
) -> Planned:
    """Plan the fleet from its stored profiles; with `validation`, measure the plan (and the blind one when
    it differs) on this host's embedded server, each as a `deploy` run."""
    fleet = fleet_of(spec, store, extrapolate)
    found = answer(fleet.problem, method or spec.method, spec.time_limit_s)
    checked = prediction_checks(p for p in fleet.profiles.values() if not p.extrapolated_from)
    planned = Planned(fleet, found, checked)
    if validation is not None:
        planned.validated = _validate(spec, store, fleet, found, validation)
    return planned


def _validate(
    spec: PlanFile, store: Store, fleet: Fleet, found: Answer, how: Validation
) -> list[tuple[str, ExperimentResults]]:
    host = host_type(fleet, store, how.machine)
    speeds = profiled_speed(store, fleet.runs[host])
    plans = [(AWARE, found.plan)]
    if _layout(found.blind) != _layout(found.plan):  # the same machines need measuring once
        plans.append((BLIND, found.blind))
    validated = []
    for label, plan in plans:
        experiment = deploy_experiment(spec, fleet, plan, label, host, speeds)
        if experiment is None:
            continue
        with how.reporter() as reporter:
            run_id = run_experiment(
                experiment,
                store,
                reporter,
                source=how.source,
                require_quiet_host=how.require_quiet_host,
                ray=how.ray,
            )
        validated.append((label, experiment_results(store, run_id)))
    if not validated:
        fleet.notes.append(
            f"--validate: no planned machine is of this host's type ({host}): nothing measured"
        )
    return validated


def _layout(plan: Plan) -> list[tuple[str, list[tuple[str, float]]]]:
    return sorted((m.type, sorted(m.tenants.items())) for m in plan.machines)
