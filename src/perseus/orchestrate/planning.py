"""The fleet plan workflow behind `perseus plan`: the stored profiles a plan names, the plan (and the
baselines and interference-blind plan beside it), the capacity model's checks, and with validation, each
plan deployed on this host's embedded server after the host's speed is measured again."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal

from perseus.config.plan import PlanFile
from perseus.core.progress import Reporter
from perseus.experiments import deploy
from perseus.experiments.deploy import Verdict
from perseus.experiments.fleet import Fleet, deploy_experiment, fleet_of, host_type, profiled_speed
from perseus.experiments.references import Source
from perseus.experiments.results import RUN_KIND, ExperimentResults, experiment_results
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

    @property
    def verdict(self) -> Verdict | None:
        """The recommended plan's validation: held, missed or unjudged (None: not validated here)."""
        found = [r.findings for label, r in self.validated if label == AWARE]
        return found[0].verdict if found and isinstance(found[0], deploy.Findings) else None


@dataclass(frozen=True)
class Validation:
    """How to validate: on which machine type (None: the one profiled here), reported how, on Ray or not."""

    reporter: Callable[[], AbstractContextManager[Reporter]]
    machine: str | None = None
    source: Source = field(default_factory=lambda: Source("plan"))
    require_quiet_host: bool = False
    ray: str | None = None
    fresh: bool = False  # measure again even where this plan was validated before


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
    if layout(found.blind) != layout(found.plan):  # the same machines need measuring once
        plans.append((BLIND, found.blind))
    validated = []
    for label, plan in plans:
        experiment = deploy_experiment(spec, fleet, plan, label, host, speeds)
        if experiment is None:
            continue
        before = store.find_run(RUN_KIND, experiment.model_dump(mode="json"))
        with how.reporter() as reporter:
            run_id = run_experiment(
                experiment,
                store,
                reporter,
                fresh=how.fresh,
                source=how.source,
                require_quiet_host=how.require_quiet_host,
                ray=how.ray,
            )
        if not how.fresh and before is not None and before.id == run_id and before.status == "done":
            fleet.notes.append(
                f"--validate: the {label} plan was validated before as run {run_id}: its measurements are "
                "reported again (plan --validate --fresh measures it again)"
            )
        validated.append((label, experiment_results(store, run_id)))
    if not validated:
        fleet.notes.append(
            f"--validate: no planned machine is of this host's type ({host}): nothing measured"
        )
    return validated


def layout(plan: Plan) -> list[tuple[str, list[tuple[str, float]]]]:
    """A plan's machines as comparable values: two plans with equal layouts need measuring once."""
    return sorted((m.type, sorted(m.tenants.items())) for m in plan.machines)
