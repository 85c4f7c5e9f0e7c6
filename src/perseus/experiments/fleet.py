"""A fleet plan file turned into the planner's problem: the stored profile runs it names, read back into
machine profiles, priced from the catalog, and the machine types it may rent (a type without a profile
only when extrapolation is asked for, and then flagged)."""

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from perseus.config.plan import PlanFile, ProfileRef
from perseus.config.prices import Machine, load_catalog
from perseus.core.errors import ConfigError
from perseus.core.estimate import MAX_SIGMA, Point, fit_curve
from perseus.core.interval import Estimate
from perseus.experiments import frontier
from perseus.experiments import profile as profile_kind
from perseus.experiments.registry import stored_experiment
from perseus.experiments.results import RUN_KIND, ExperimentResults, experiment_results
from perseus.planner.capacity import fit
from perseus.planner.pair_choice import tenants_of, usable_memory
from perseus.planner.problem import MachineType, Problem
from perseus.planner.profile import Colocation, MachineProfile, ModelProfile, merged
from perseus.store import Store, TrialRow


@dataclass(frozen=True)
class Fleet:
    problem: Problem
    profiles: dict[str, MachineProfile]  # by machine type, as measured (or extrapolated)
    runs: dict[str, list[int]]  # the profile runs behind each machine type
    notes: list[str]
    results: dict[int, ExperimentResults] = field(default_factory=dict)  # each profile run, as read


PROFILING = (profile_kind.NAME, frontier.NAME)  # the kinds whose runs a plan can read


def profile_run(store: Store, ref: int | str) -> int:
    """The run a plan names: by id, or the latest run of kind profile (or frontier) with that name."""
    runs = [r for r in store.runs() if r.kind == RUN_KIND and r.spec.get("kind") in PROFILING]
    if isinstance(ref, int):
        if not any(r.id == ref for r in store.runs()):
            raise ConfigError(f"profiles: run {ref} is not in {store.path} (perseus runs list)")
        if not any(r.id == ref for r in runs):
            raise ConfigError(f"profiles: run {ref} is neither a profile nor a frontier run")
        return ref
    named = [r for r in runs if r.spec.get("name") == ref]
    if not named:
        raise ConfigError(
            f"profiles: no profile run named {ref!r} in {store.path}: run it first "
            f"(e.g. perseus run experiments/profile-6cnn.yaml)"
        )
    done = [r for r in named if r.status == "done"]
    return (done or named)[-1].id


def read_profiles(
    store: Store, plan: PlanFile
) -> tuple[dict[str, MachineProfile], dict[str, list[int]], list[str], dict[int, ExperimentResults]]:
    """Each machine type's profile, merged over the runs that measured it (planner.profile.merged); and
    each run's results as read."""
    found: dict[str, list[MachineProfile]] = {}
    runs: dict[str, list[int]] = {}
    notes: list[str] = []
    read: dict[int, ExperimentResults] = {}
    for entry in plan.profiles:
        ref = entry if isinstance(entry, ProfileRef) else ProfileRef(run=entry)
        run_id = profile_run(store, ref.run)
        results = read[run_id] = experiment_results(store, run_id)
        if results.status != "done":
            notes.append(f"profile run {run_id} is {results.status}: planning from what it measured")
        mp = _machine_profile(store, run_id, results, ref.machine)
        if isinstance(results.findings, profile_kind.Findings) and results.findings.choices:
            notes.append(f"profile run {run_id}: {profile_kind.pairs_note(results.findings)}")
        runs.setdefault(mp.machine, []).append(run_id)
        found.setdefault(mp.machine, []).append(mp)
    profiles = {
        machine: replace(merged(parts), source=f"run {', '.join(map(str, runs[machine]))}")
        for machine, parts in found.items()
    }
    return profiles, runs, notes, read


def _machine_profile(
    store: Store, run_id: int, results: ExperimentResults, machine: str | None
) -> MachineProfile:
    found = results.findings
    if isinstance(found, profile_kind.Findings):
        return found.profile if machine is None else replace(found.profile, machine=machine)
    if machine is None:
        raise ConfigError(
            f"profiles: run {run_id} is a frontier run: say which machine type it ran on "
            f"({{run: {run_id}, machine: ID}})"
        )
    exp = stored_experiment(results.spec, f"run {run_id}")
    assert isinstance(found, frontier.Findings) and isinstance(exp, frontier.Settings)
    return from_frontier(exp, found, store.trials(run_id), machine, f"frontier run {run_id}")


def from_frontier(
    exp: frontier.Settings, found: frontier.Findings, trials: list[TrialRow], machine: str, source: str
) -> MachineProfile:
    """A frontier run as a profile of its two models: λ alone (the one setting it measured), memory, and
    each measured frontier point as a co-location (its Σ r/λ and the interval its saving has)."""
    models = {
        key: ModelProfile(
            key,
            peak.total,
            peak.total,
            {},
            profile_kind.memory_alone(trials, exp, key),
            profile_kind.sla_text(exp, key),
            exp.models[exp.model_keys().index(key)],
        )
        for key, peak in found.peaks.items()
    }
    points = []
    fig2 = found.fig2
    for point in fig2.points if fig2 is not None else []:
        if point.source == "dedicated":
            continue
        assert fig2 is not None
        s = point.saving_interval
        capacity = Estimate(1 / (1 - s.value), 1 / (1 - s.low), 1 / (1 - s.high), s.searches)
        a, b = exp.model_keys()
        mix = point.rates_rps[a] / fig2.peaks[a] / capacity.value
        points.append(Colocation((a, b), dict(point.rates_rps), capacity, mix))
    return MachineProfile(machine, models, tuple(points), source)


def extrapolated(source: MachineProfile, machine: Machine, measured_on: Machine) -> MachineProfile:
    """A profile scaled by vCPUs from another type's: λ × (vCPUs / vCPUs measured); κ kept."""
    factor = machine.vcpus / measured_on.vcpus
    return replace(
        scaled(source, factor),
        machine=machine.id,
        extrapolated_from=f"{source.machine} × {factor:g} (vCPUs)",
    )


def scaled(source: MachineProfile, factor: float | Mapping[str, float]) -> MachineProfile:
    """A profile of a machine on which each model serves `factor` times its λ (one factor for all, or
    one per model: 1 for a model not named): every λ alone and every co-location point's rates × its
    model's factor; each point's shared capacity (Σ r/λ, a ratio of rates measured the same hour) kept."""

    def of(key: str) -> float:
        return factor if isinstance(factor, float | int) else factor.get(key, 1.0)

    def model(m: ModelProfile) -> ModelProfile:
        f = of(m.model)
        return replace(m, shared_rps=m.shared_rps.scaled(f), best_rps=m.best_rps.scaled(f))

    def point(c: Colocation) -> Colocation:
        return replace(c, rates_rps={k: r * of(k) for k, r in c.rates_rps.items()})

    return replace(
        source,
        models={k: model(m) for k, m in source.models.items()},
        colocations=tuple(point(c) for c in source.colocations),
    )


def fleet_of(plan: PlanFile, store: Store, extrapolate: str | None = None) -> Fleet:
    profiles, runs, notes, read = read_profiles(store, plan)
    fleet = fleet_from(plan, profiles, runs, notes, extrapolate)
    return replace(fleet, results=read)


def at_speed(
    plan: PlanFile, fleet: Fleet, host: str, factors: Mapping[str, float], extrapolate: str | None = None
) -> Fleet:
    """The fleet as if each model served `factors` times its λ on machines of type `host` (slowed_lambdas:
    the host's speed now, over the profile's): that profile scaled (types extrapolated from it follow)."""
    measured = {k: p for k, p in fleet.profiles.items() if not p.extrapolated_from}
    measured[host] = scaled(measured[host], factors)
    return replace(fleet_from(plan, measured, fleet.runs, [], extrapolate), results=fleet.results)


def slowed_lambdas(fleet: Fleet, host: str, speeds: Mapping[str, float], default: float) -> dict[str, float]:
    """Per model of the host type's profile: its λ on this host now over its λ as profiled, from its own
    speed now (`speeds`: its closed-loop rate alone now over the profile's; `default` for a model not
    looked at), never above 1 (a re-plan is for a host that slowed: no model is planned bolder than its
    profile). Not the speed itself: the SLA's bound does not move when every service time grows, so λ
    falls by more. From the latency curve fitted to its search alone as configured (core.estimate: a and
    b / speed, μ × speed; the median over the runs that searched it), else the speed (no curve fits, or it
    misses the probes by more than core.estimate.MAX_SIGMA, or meets the bound at no rate at that speed)."""
    found: dict[str, list[float]] = {}
    for run_id in fleet.runs.get(host, []):
        findings = fleet.results[run_id].findings if run_id in fleet.results else None
        if not isinstance(findings, profile_kind.Findings):
            continue
        for key, peak in findings.peaks.items():
            speed = min(1.0, speeds.get(key, default))
            points = [Point(sum(p.offered_rps.values()), p.sla_ratio, p.feasible) for p in peak.probes]
            curve = fit_curve(points, 1.0)
            curve = curve if curve is not None and not curve.sigma > MAX_SIGMA else None
            then = curve.rate_at(1.0) if curve is not None else None
            now = curve.slowed(speed).rate_at(1.0) if curve is not None else None
            found.setdefault(key, []).append(now / then if then and now else speed)
    factors = {k: statistics.median(v) for k, v in found.items()}
    return {k: factors.get(k, min(1.0, speeds.get(k, default))) for k in fleet.profiles[host].models}


def fleet_from(
    plan: PlanFile,
    profiles: dict[str, MachineProfile],
    runs: dict[str, list[int]],
    notes: list[str],
    extrapolate: str | None = None,
) -> Fleet:
    """The planner's problem over these measured profiles: the plan's machine types priced from its
    catalog, a type without a profile extrapolated when asked (and flagged)."""
    catalog = load_catalog(plan.catalog)
    profiles = dict(profiles)
    for machine_id in [*profiles, *plan.machines]:
        catalog.get(machine_id)  # one line naming an id the catalog lacks
    wanted = list(plan.machines) or list(profiles)
    how = extrapolate or plan.extrapolate
    types: list[MachineType] = []
    for machine_id in wanted:
        machine = catalog.get(machine_id)
        found = profiles.get(machine_id)
        if found is None and how == "cores":
            nearest = min(profiles, key=lambda m: abs(catalog.get(m).vcpus - machine.vcpus))
            found = extrapolated(profiles[nearest], machine, catalog.get(nearest))
            profiles[machine_id] = found
            notes.append(f"{machine_id}: no profile; λ extrapolated from {found.extrapolated_from}, flagged")
        elif found is None:
            notes.append(f"{machine_id}: no profile, not used (--extrapolate cores to scale one, flagged)")
            continue
        types.append(MachineType(machine_id, machine.usd_per_h, usable_memory(plan, machine), fit(found)))
    if not types:
        raise ConfigError(f"no machine type to plan on: none of {', '.join(wanted)} has a profile")
    tenants = tenants_of(plan, model_refs(profiles.values()))
    return Fleet(Problem(tenants, tuple(types)), profiles, runs, notes)


def model_refs(profiles: Iterable[MachineProfile]) -> dict[str, str]:
    """What a plan's tenant may call a profiled model, and the model it means: its name in the profile,
    or its spec as the profile's experiment wrote it."""
    refs: dict[str, str] = {}
    for profile in profiles:
        for key, model in profile.models.items():
            refs.setdefault(key, key)
            refs.setdefault(model.spec, key)
    return refs
