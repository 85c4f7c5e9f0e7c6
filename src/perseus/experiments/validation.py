"""A fleet's plan turned back into experiments that check it on this host (`perseus plan --validate`): its
machines of this host's type as a `deploy` run (each model's look at the host's speed first), and, when
the plan missed on a host slower than profiled, each planned model's λ alone searched again now at the
setting the plan serves it at (a `profile` run of those models alone), which the re-plan is made from."""

import platform
from collections.abc import Mapping
from dataclasses import dataclass

from perseus.config.plan import PlanFile
from perseus.core.errors import ConfigError
from perseus.core.sla import parse_sla
from perseus.experiments import deploy
from perseus.experiments import profile as profile_kind
from perseus.experiments.fleet import Fleet
from perseus.experiments.registry import parse_experiment
from perseus.experiments.speed import setting_key
from perseus.planner.problem import Plan
from perseus.planner.profile import MachineProfile
from perseus.store import Store

ALONE_KNOBS = ("instances", "dynamic_batching", "intra_op_threads")
Knobs = dict[str, int | bool]
# The searches of λ alone now (a re-plan's): at most 5 probes to a 5% bracket, λ its highest rate measured
# to meet the SLA (bisection, not the fitted crossing, which is as often above the true λ as below: a
# re-plan filling a machine to it would sit on the SLA's bound). Its trials are the profile's.
SEARCH_NOW = {"tolerance": 0.05, "max_probes": 5}


@dataclass(frozen=True)
class Served:
    """What a plan serves on machines of one type: per model, its work (Σ r/λ), its strictest tenant's SLA
    and the setting most of its req/s is served at (alone at its best, or as configured: {})."""

    work: dict[str, float]
    slas: dict[str, str]
    setting: dict[str, Knobs]


def alone_knobs(profile: MachineProfile, model: str) -> Knobs:
    """The knobs a machine of the model's own serves it at: its best setting's."""
    best = profile.models[model].best_setting
    return {k: v for k, v in best.items() if k in ALONE_KNOBS and isinstance(v, int | bool)}


def served(fleet: Fleet, planned: Plan, host: str) -> Served:
    profile = fleet.profiles[host]
    work: dict[str, float] = {}
    slas: dict[str, str] = {}
    rates: dict[str, dict[str, tuple[float, Knobs]]] = {}  # by model, setting: req/s, knobs
    for m in planned.machines:
        if m.type != host:
            continue
        for name, rate in m.tenants.items():
            tenant = fleet.problem.by_name[name]
            work[tenant.model] = (
                work.get(tenant.model, 0.0) + rate / profile.models[tenant.model].shared_rps.value
            )
            slas[tenant.model] = min(
                tenant.sla, slas.get(tenant.model, tenant.sla), key=lambda s: parse_sla(s).threshold_ns
            )
        for model, rate in m.models.items():
            knobs = alone_knobs(profile, model) if m.dedicated else {}
            done, _ = rates.setdefault(model, {}).get(setting_key(knobs), (0.0, knobs))
            rates[model][setting_key(knobs)] = (done + rate, knobs)
    setting = {model: max(by.values(), key=lambda rk: rk[0])[1] for model, by in rates.items()}
    return Served(work, slas, setting)


def deploy_experiment(
    plan: PlanFile,
    fleet: Fleet,
    planned: Plan,
    label: str,
    host: str,
    looks: Mapping[str, Mapping[str, float]] = {},
) -> deploy.Settings | None:
    """The machines of `planned` of type `host` as a `deploy` experiment (None: the plan has none). Every
    planned model `looks` has (closed-loop req/s when profiled: speed.profiled_looks) is measured again
    first, most planned work first, at the setting the plan serves most of it at (alone at its best, or
    as configured), to say whether the host is as fast for it as when profiled."""
    profile = fleet.profiles[host]
    on_host = served(fleet, planned, host)
    machines = [
        {
            "type": m.type,
            "tenants": [
                {
                    "name": n,
                    "model": fleet.problem.by_name[n].model,
                    "rate": r,
                    "sla": fleet.problem.by_name[n].sla,
                }
                for n, r in m.tenants.items()
            ],
            "knobs": {model: alone_knobs(profile, model) for model in m.models} if m.dedicated else {},
            "predicted_load": m.predicted_load,
        }
        for m in planned.machines
        if m.type == host
    ]
    if not machines:
        return None
    reference: dict[str, float] = {}
    reference_knobs: dict[str, Knobs] = {}
    for model in sorted((k for k in on_host.work if k in looks), key=lambda k: -on_host.work[k]):
        knobs = on_host.setting[model]
        then = looks[model].get(setting_key(knobs))
        if then is None:  # the profile never looked at that setting: as configured
            then, knobs = looks[model].get(setting_key(None)), {}
        if then is not None:
            reference[model] = then
            reference_knobs.update({model: knobs} if knobs else {})
    data = {
        "name": f"validate plan {plan.name!r} ({label})",
        "kind": deploy.NAME,
        # Every profiled model, in the profile's order, so the deploy names them as the profile did (a
        # second synthetic-sleep is synthetic-sleep-2); only the planned ones are served.
        "models": [_config(profile, k) for k in profile.models],
        "sla": {k: on_host.slas.get(k, m.sla) for k, m in profile.models.items()},
        "trial": {
            "warmup_s": min(3.0, plan.validate_s / 2),
            "min_duration_s": plan.validate_s,
            "max_duration_s": 1.5 * plan.validate_s,
        },
        "deploy": {
            "plan": f"{plan.name} ({label})",
            "machines": machines,
            "reference": reference,
            "reference_knobs": reference_knobs,
        },
    }
    experiment = parse_experiment(data, f"plan {plan.name!r}")
    assert isinstance(experiment, deploy.Settings)
    return experiment


def lambdas_experiment(
    plan: PlanFile, fleet: Fleet, planned: Plan, host: str
) -> profile_kind.Settings | None:
    """Each model `planned` serves on machines of type `host`, alone at the setting it is served at (its
    knobs in its config, so its λ "as configured" is that setting's), searched now with the trials of the
    last profile run of that type: a `profile` of no pairs (None: the plan has no machine of this type)."""
    profile = fleet.profiles[host]
    on_host = served(fleet, planned, host)
    if not on_host.setting:
        return None
    runs = [fleet.results[r] for r in fleet.runs.get(host, []) if r in fleet.results]
    trial = {"trial": runs[-1].spec["trial"]} if runs and "trial" in runs[-1].spec else {}
    data = {
        "name": f"validate plan {plan.name!r}: λ alone now",
        "kind": profile_kind.NAME,
        "models": [_config(profile, k, on_host.setting[k]) for k in profile.models if k in on_host.setting],
        "sla": {k: profile.models[k].sla for k in profile.models if k in on_host.setting},
        **trial,  # as the profile measured λ then
        "search": SEARCH_NOW,
        "profile": {"machine": host, "pairs": False},
    }
    experiment = parse_experiment(data, f"plan {plan.name!r}")
    assert isinstance(experiment, profile_kind.Settings)
    return experiment


def lambda_then(profile: MachineProfile, model: str, knobs: Mapping[str, object]) -> float:
    """A model's λ alone as profiled at the setting a plan serves it at: its best alone, or as configured."""
    measured = profile.models[model]
    return measured.best_rps.value if knobs else measured.shared_rps.value


def _config(profile: MachineProfile, key: str, knobs: Knobs | None = None) -> dict[str, object] | str:
    """A profiled model as an experiment names it (its config as profiled), with `knobs` over it."""
    config = profile.models[key].config
    if not knobs:
        return config.model_dump(exclude_defaults=True) if config is not None else key
    base = config.model_dump(exclude_defaults=True) if config is not None else {"model": key}
    return {**base, **knobs}


def host_type(fleet: Fleet, store: Store, given: str | None) -> str:
    """The machine type of this host: --machine, else the one type profiled on this host."""
    if given is not None:
        if given not in fleet.profiles or fleet.profiles[given].extrapolated_from:
            raise ConfigError(f"--machine {given}: the plan has no measured profile of that type to validate")
        return given
    here = platform.node()
    measured = {
        machine
        for machine, run_ids in fleet.runs.items()
        for run_id in run_ids
        if store.run(run_id).provenance.get("host", {}).get("hostname") == here
    }
    if len(measured) != 1:
        raise ConfigError(
            f"--validate: say which machine type this host is with --machine ID (profiled here: "
            f"{', '.join(sorted(measured)) or 'none'})"
        )
    return measured.pop()
