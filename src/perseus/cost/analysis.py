"""From a stored experiment run to its findings (cost.results): λ per placement, Fig 1, Fig 2, QoS curves,
interference, knobs, and $ per 1M inferences. Pure over the store: re-running it changes nothing."""

import math
from collections.abc import Iterable
from typing import Any

from perseus.config.experiment import Experiment
from perseus.config.prices import load_catalog
from perseus.cost.pricing import cost_line
from perseus.cost.results import (
    ExperimentResults,
    Fig1,
    Fig2,
    FrontierPoint,
    Interference,
    KnobRow,
    Knobs,
    Peak,
    Probe,
    QosCurve,
    QosPoint,
    Slowdown,
)
from perseus.cost.saving import sharing_saving
from perseus.orchestrate.experiments import knob_prefixes
from perseus.orchestrate.probe import feasible
from perseus.store import Store, TrialRow


def _tenant_values(trial: TrialRow, key: str) -> dict[str, float]:
    return {t: float(trial.summary.get(t, {}).get(key, math.nan)) for t in trial.spec.get("offered", {})}


def probe_of(trial: TrialRow) -> Probe:
    offered = {t: float(r) for t, r in trial.spec.get("offered", {}).items()}
    ok, detail = feasible(trial, [t for t, r in offered.items() if r > 0])
    return Probe(
        trial.id,
        trial.name,
        offered,
        _tenant_values(trial, "throughput_rps"),
        _tenant_values(trial, "p95_ms"),
        _tenant_values(trial, "qos_satisfaction"),
        trial.status,
        ok,
        None if ok and trial.status == "valid" else detail,
    )


def _select(trials: Iterable[TrialRow], phase: str, label: str) -> list[TrialRow]:
    return [t for t in trials if t.spec.get("phase") == phase and t.spec.get("label") == label]


def peak(
    trials: list[TrialRow], phase: str, label: str, judged: str | None, method: str, title: str
) -> Peak | None:
    """λ on a placement: the feasible probe with the highest offered rate (bisect; every feasible probe
    sits below the final bracket) or the highest served rate (ramp, the paper's rule)."""
    probes = [probe_of(t) for t in _select(trials, phase, label)]
    good = [p for p in probes if p.feasible]
    if not good:
        return None

    def score(p: Probe) -> float:
        rates = p.served_rps if method == "ramp" else p.offered_rps
        return rates[judged] if judged is not None else sum(rates.values())

    best = max(good, key=score)
    return Peak(title, dict(best.offered_rps), dict(best.p95_ms), method, probes)


def _name_of(trials: list[TrialRow], phase: str, key: str) -> str | None:
    """The server tenant that was model `key` in this phase."""
    for trial in trials:
        if trial.spec.get("phase") == phase:
            for name, model in trial.spec.get("models", {}).items():
                if model == key:
                    return str(name)
    return None


def _dedicated(trials: list[TrialRow], exp: Experiment, prefix: str = "") -> dict[str, Peak]:
    found: dict[str, Peak] = {}
    for key in exp.model_keys():
        phase = f"{prefix}dedicated/{key}"
        name = _name_of(trials, phase, key)
        result = peak(trials, phase, "peak", name, exp.search.method, f"{key} dedicated")
        if result is not None and name is not None:
            rates, p95 = {key: result.rates_rps[name]}, {key: result.p95_ms[name]}
            found[key] = Peak(result.label, rates, p95, result.method, result.probes)
    return found


def _by_model(trials: list[TrialRow], phase: str, values: dict[str, float]) -> dict[str, float]:
    """Tenant names → model bases (as the spec of the phase's trials records them)."""
    names: dict[str, str] = {}
    for trial in trials:
        if trial.spec.get("phase") == phase:
            names.update(trial.spec.get("models", {}))
    return {names.get(t, t): v for t, v in values.items()}


def _shared(trials: list[TrialRow], exp: Experiment, prefix: str = "") -> Peak | None:
    result = peak(trials, f"{prefix}shared", "shared peak", None, exp.search.method, "shared")
    if result is None:
        return None
    rates = _by_model(trials, f"{prefix}shared", result.rates_rps)
    return Peak(
        result.label, rates, _by_model(trials, f"{prefix}shared", result.p95_ms), result.method, result.probes
    )


def _fig1(
    trials: list[TrialRow], exp: Experiment, dedicated: dict[str, Peak], warnings: list[str]
) -> Fig1 | None:
    shared = _shared(trials, exp)
    if shared is None or len(dedicated) < len(exp.models):
        warnings.append("Fig 1 incomplete: no feasible shared or dedicated peak was stored")
        return None
    peaks = {m: p.total_rps for m, p in dedicated.items()}
    saving = sharing_saving(shared.rates_rps, peaks)
    catalog = load_catalog(exp.price.catalog)
    costs = []
    for machine_id in exp.price.machines:
        machine = catalog.get(machine_id)
        costs += [cost_line(f"{m} dedicated", machine, p) for m, p in peaks.items()]
        costs.append(cost_line("shared", machine, shared.total_rps))
    return Fig1([*dedicated], dedicated, shared, saving, costs)


def _fig2(
    trials: list[TrialRow], exp: Experiment, dedicated: dict[str, Peak], warnings: list[str]
) -> Fig2 | None:
    a, b = exp.model_keys()
    if a not in dedicated or b not in dedicated:
        warnings.append("Fig 2 needs both dedicated peaks")
        return None
    peaks = {a: dedicated[a].total_rps, b: dedicated[b].total_rps}
    name_b = _name_of(trials, "shared", b)
    points = [FrontierPoint({a: peaks[a], b: 0.0}, 0.0, "dedicated")]
    for fraction in exp.frontier.fractions:
        found = peak(trials, "shared", f"frontier f={fraction:g}", name_b, exp.search.method, "frontier")
        if found is None:
            warnings.append(f"frontier: no feasible rate of {b} with {a} at {fraction:.0%} of λ_{a}")
            continue
        rates = _by_model(trials, "shared", found.rates_rps)
        points.append(FrontierPoint(rates, sharing_saving(rates, peaks), "measured"))
    shared = _shared(trials, exp)
    if shared is not None:  # Fig 1's shared peak (equal share) is a frontier point too
        points.append(FrontierPoint(shared.rates_rps, sharing_saving(shared.rates_rps, peaks), "shared peak"))
    points.append(FrontierPoint({a: 0.0, b: peaks[b]}, 0.0, "dedicated"))
    points.sort(key=lambda p: -p.rates_rps[a])
    return Fig2((a, b), peaks, points, max(p.saving for p in points))


def _qos(trials: list[TrialRow], exp: Experiment, dedicated: dict[str, Peak]) -> list[QosCurve]:
    curves: list[QosCurve] = []
    for phase, placement in [(f"dedicated/{m}", "alone") for m in dedicated] + [("shared", "co-located")]:
        by_tenant: dict[str, list[QosPoint]] = {}
        for fraction in exp.qos.fractions:
            for trial in _select(trials, phase, f"qos f={fraction:g}"):
                for tenant, rate in trial.spec.get("offered", {}).items():
                    s = trial.summary.get(tenant, {})
                    model = trial.spec.get("models", {}).get(tenant, tenant)
                    by_tenant.setdefault(model, []).append(
                        QosPoint(
                            float(rate),
                            fraction,
                            float(s.get("qos_satisfaction") or 0.0),
                            float(s.get("p95_ms", math.nan)),
                            bool(s.get("sla_met")),
                        )
                    )
        curves += [QosCurve(m, placement, exp.sla_of(m).label, pts) for m, pts in by_tenant.items()]
    return curves


def _p95(trials: list[TrialRow], phase: str, label: str, tenant: str) -> float:
    rows = _select(trials, phase, label)
    return float(rows[-1].summary.get(tenant, {}).get("p95_ms", math.nan)) if rows else math.nan


def _interference(trials: list[TrialRow], exp: Experiment, dedicated: dict[str, Peak]) -> Interference:
    lf = exp.interference.load_fraction
    label = f"interference lf={lf:g}"
    pairs: list[Slowdown] = []
    for trial in (
        t for t in trials if str(t.spec.get("phase", "")).startswith("pair/") and t.spec.get("label") == label
    ):
        phase = str(trial.spec["phase"])
        models: dict[str, str] = trial.spec.get("models", {})
        for victim, model in models.items():
            aggressor = next(n for n in models if n != victim)
            alone_name = _name_of(trials, f"dedicated/{model}", model) or model
            beside = peak(trials, phase, f"peak beside {aggressor}", victim, exp.search.method, "beside")
            pairs.append(
                Slowdown(
                    model,
                    [models[aggressor]],
                    False,
                    float(trial.spec["offered"][victim]),
                    _p95(trials, f"dedicated/{model}", label, alone_name),
                    float(trial.summary.get(victim, {}).get("p95_ms", math.nan)),
                    dedicated[model].total_rps if model in dedicated else None,
                    beside.rates_rps[victim] if beside is not None else None,
                )
            )
    copies: list[Slowdown] = []
    n = exp.interference.copies
    base = exp.model_keys()[0]
    for pinned in exp.interference.pinning:
        suffix = "pinned" if pinned else "unpinned"
        alone = _select(trials, f"copies1/{suffix}", f"copies n=1 lf={lf:g}")
        together = _select(trials, f"copies{n}/{suffix}", f"copies n={n} lf={lf:g}")
        if alone and together:
            names = list(together[-1].spec.get("offered", {}))
            worst = max(float(together[-1].summary.get(t, {}).get("p95_ms", math.nan)) for t in names)
            copies.append(
                Slowdown(
                    base,
                    [f"{n - 1} × {base}"],
                    pinned,
                    float(together[-1].spec["offered"][names[0]]),
                    float(alone[-1].summary.get(base, {}).get("p95_ms", math.nan)),
                    worst,
                )
            )
    return Interference(pairs, copies)


def _knobs(trials: list[TrialRow], exp: Experiment) -> Knobs:
    rows: list[KnobRow] = []
    settings: dict[int, dict[str, Any]] = {}
    for trial in trials:
        phase = str(trial.spec.get("phase", ""))
        if phase.startswith("knobs[") and phase[6].isdigit():
            settings[int(phase[6 : phase.index("]")])] = trial.spec.get("setting", {})
    for index, setting in sorted(settings.items()):
        dedicated_prefix, prefix = knob_prefixes(index, setting)
        peaks = {m: p.total_rps for m, p in _dedicated(trials, exp, dedicated_prefix).items()}
        shared = _shared(trials, exp, prefix)
        ok = shared is not None and len(peaks) == len(exp.models)
        saving = sharing_saving(shared.rates_rps, peaks) if ok and shared is not None else None
        rows.append(KnobRow(setting, peaks, shared.rates_rps if shared else {}, saving, ok))
    feasible_rows = [r for r in rows if r.saving is not None]
    best = max(feasible_rows, key=lambda r: r.saving if r.saving is not None else -math.inf, default=None)
    return Knobs(rows, best)


def experiment_results(store: Store, run_id: int) -> ExperimentResults:
    run = store.run(run_id)
    exp = Experiment.model_validate(run.spec)
    trials = store.trials(run_id)
    warnings = [f"trial {t.name} FAILED: {t.reason}" for t in trials if t.status == "failed"]
    unstable = sum(
        1 for t in trials if t.status == "invalid" and feasible(t, list(t.spec.get("offered", {})))[0]
    )
    if unstable:
        warnings.append(
            f"{unstable} probe(s) met the SLA but their windows did not agree within the stability tolerance;"
            " they count as feasible (see each probe's reason)"
        )
    dedicated = _dedicated(trials, exp) if exp.kind != "knobs" else {}
    results: dict[str, Any] = {"peaks": list(dedicated.values())}
    if exp.kind == "dedicated-vs-multitenant":
        results["fig1"] = _fig1(trials, exp, dedicated, warnings)
    elif exp.kind == "frontier":
        results["fig1"] = _fig1(trials, exp, dedicated, warnings)
        results["fig2"] = _fig2(trials, exp, dedicated, warnings)
    elif exp.kind == "qos-sweep":
        results["qos"] = _qos(trials, exp, dedicated)
    elif exp.kind == "interference":
        results["interference"] = _interference(trials, exp, dedicated)
    elif exp.kind == "knobs":
        results["knobs"] = _knobs(trials, exp)
    return ExperimentResults(
        run_id=run_id,
        name=exp.name,
        kind=exp.kind,
        status=run.status,
        reason=run.reason,
        sla={key: exp.sla_of(key).label for key in exp.model_keys()},
        provenance={**run.provenance, "started_at": run.started_at, "finished_at": run.finished_at},
        spec=run.spec,
        trials=len(trials),
        failed_trials=sum(1 for t in trials if t.status == "failed"),
        warnings=warnings,
        **results,
    )
