"""A stored experiment run read back: run facts, provenance, warnings, and the findings its kind's
analysis derives from the stored trials (pure: reading it again changes nothing)."""

from dataclasses import dataclass, field
from typing import Any

from perseus.experiments.registry import kind_of, stored_experiment
from perseus.store import Store
from perseus.store.judge import judge, probes

RUN_KIND = "experiment"  # runs.kind of every experiment run (a bench run is "bench")


@dataclass(frozen=True)
class ExperimentResults:
    """Everything a report shows for one run; `findings` is the kind's own (its module's Findings)."""

    run_id: int
    name: str
    kind: str
    status: str  # done | failed | interrupted | running
    reason: str | None
    sla: dict[str, str]  # per model, e.g. {"resnet50": "p95 ≤ 750 ms"}
    provenance: dict[str, Any]
    spec: dict[str, Any]
    findings: Any
    trials: int = 0
    failed_trials: int = 0
    warnings: list[str] = field(default_factory=list)


def experiment_results(store: Store, run_id: int) -> ExperimentResults:
    run = store.run(run_id)
    experiment = stored_experiment(run.spec, f"run {run_id}")
    trials = store.trials(run_id)
    warnings = [f"trial {t.name} FAILED: {t.reason}" for t in trials if t.status == "failed"]
    # Probes only (each its attempts together): a closed-loop estimate offers no rates, so it would pass
    # every (absent) SLA.
    unstable = 0
    for attempts in probes(trials):
        offered = attempts[-1].key.offered if attempts[-1].key is not None else {}
        verdict = judge(attempts, offered) if offered else None
        unstable += verdict is not None and verdict.feasible and verdict.flagged
    if unstable:
        warnings.append(
            f"{unstable} probe(s) met the SLA but their windows did not agree within the stability tolerance;"
            " they count as feasible (see each probe's reason)"
        )
    findings = kind_of(experiment.kind).analyze(experiment, trials, warnings)
    return ExperimentResults(
        run_id=run_id,
        name=experiment.name,
        kind=experiment.kind,
        status=run.status,
        reason=run.reason,
        sla={key: experiment.sla_of(key).label for key in experiment.model_keys()},
        provenance={**run.provenance, "started_at": run.started_at, "finished_at": run.finished_at},
        spec=run.spec,
        findings=findings,
        trials=len(trials),
        failed_trials=sum(1 for t in trials if t.status == "failed"),
        warnings=warnings,
    )
