"""The placements kinds share, and the measuring steps on them: each model alone (dedicated, λ by bisection
or ramp) and the models sharing one server at request-rate weights. The same helper names a placement
when a kind runs it and when its analysis reads it back."""

import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from perseus.config import TenantConfig
from perseus.config.experiment import ExperimentBase, SharedExperiment
from perseus.config.serving import format_cpuset, served_names
from perseus.experiments.lab import Lab, Server
from perseus.store import Placement
from perseus.store.keys import Scalar

START_FRACTION = 0.8  # of the closed-loop estimate: open-loop Poisson load needs headroom to meet a p95
DEDICATED, SHARED = "dedicated", "shared"
PEAK, SHARED_PEAK = "peak", "shared-peak"
ESTIMATE = "estimate"  # the purpose ProbingServer.estimate stores its closed-loop look under
REPEAT = "repeat"  # in a placement's setting: the K-th independent search of one server (absent: the 1st)
# In a placement's setting: a search again, on a fresh server, of a figure chosen as the best of several.
CONFIRMING = "confirm"


def placement(
    role: str, tenants: Sequence[TenantConfig], keys: Sequence[str], setting: Mapping[str, Scalar] = {}
) -> Placement:
    """A server of these tenants, each named as the server will name it, standing for experiment `keys`."""
    names = served_names(tenants)
    return Placement(role, tuple(zip(names, keys, strict=True)), setting)


def alone(exp: ExperimentBase, key: str, knobs: Mapping[str, Any] | None = None) -> TenantConfig:
    """Model `key` as served alone: with `knobs` (a knob setting) on all cores, else as configured."""
    tenant = exp.models[exp.model_keys().index(key)]
    return tenant if knobs is None else tenant.model_copy(update={**knobs, "cpus": None})


def alone_setting(
    exp: ExperimentBase, key: str, knobs: Mapping[str, Scalar] | None = None
) -> dict[str, Scalar]:
    """The setting model `key` is served alone at, as a report names it: the knob setting, else the knobs
    its file gives that differ from the defaults (none: the defaults)."""
    if knobs is not None:
        return dict(knobs)
    changed = alone(exp, key).model_dump(exclude_defaults=True, exclude={"model"})
    return {k: _plain(k, v) for k, v in changed.items()}


def _plain(knob: str, value: Any) -> Scalar:
    """A knob's value as one word: CPUs as the kernel lists them (`0-1`), batch sizes as `4,8`."""
    if knob == "cpus":
        return format_cpuset(value)
    return ",".join(map(str, value)) if isinstance(value, tuple) else value


def repeats(exp: ExperimentBase) -> range:
    """1, 2, ..., K: each λ search is run K times, each on a server of its own (a fresh start)."""
    return range(1, exp.repeats + 1)


def nth(setting: Mapping[str, Scalar], repeat: int) -> dict[str, Scalar]:
    # The first search keeps the key it had before repeats existed: stored runs read back unchanged.
    return {**setting, REPEAT: repeat} if repeat > 1 else dict(setting)


def dedicated(
    exp: ExperimentBase,
    key: str,
    knobs: Mapping[str, Scalar] | None = None,
    repeat: int = 1,
    confirm: bool = False,
) -> Placement:
    """Model `key` alone at `knobs`; `confirm`: the search again of a setting chosen as its best."""
    setting = nth(knobs or {}, repeat)
    return placement(
        DEDICATED, [alone(exp, key, knobs)], [key], {**setting, CONFIRMING: 1} if confirm else setting
    )


def shared(exp: ExperimentBase, setting: Mapping[str, Scalar] = {}, repeat: int = 1) -> Placement:
    return placement(SHARED, exp.models, exp.model_keys(), nth(setting, repeat))


def dedicated_labels(exp: ExperimentBase, knobs: Mapping[str, Scalar] | None = None) -> list[str]:
    """The phases dedicated_peaks goes through, for a kind's plan."""
    return [dedicated(exp, k, knobs, r).label() for k in exp.model_keys() for r in repeats(exp)]


def shared_labels(exp: ExperimentBase, setting: Mapping[str, Scalar] = {}) -> list[str]:
    """The phases shared_peak goes through, for a kind's plan."""
    return [shared(exp, setting, r).label() for r in repeats(exp)]


def peak_of(
    server: Server, tenant: str, held: Mapping[str, float] | None = None, start: float | None = None
) -> float:
    """λ of `tenant` with the other tenants held at fixed rates; without a `start`, a short closed-loop
    look at the tenant alone says where to begin."""
    others = dict(held or {})
    start = start or START_FRACTION * server.estimate()[tenant]
    return server.search(lambda rate: {**others, tenant: rate}, [tenant], start, PEAK, tenant=tenant)


AloneTrials = Callable[[Server, str, float], None]  # (server, tenant, λ): more trials on that server


def dedicated_peaks(
    exp: ExperimentBase,
    lab: Lab,
    knobs: Mapping[str, Scalar] | None = None,
    then: AloneTrials | None = None,
) -> dict[str, float]:
    """Each model alone on its own server (all cores): see dedicated_peak. The mean λ by model key."""
    keys = exp.model_keys()
    return dict(
        zip(keys, lab.each(keys, lambda key: dedicated_peak(exp, lab, key, knobs, then)), strict=True)
    )


def dedicated_peak(
    exp: ExperimentBase,
    lab: Lab,
    key: str,
    knobs: Mapping[str, Scalar] | None = None,
    then: AloneTrials | None = None,
    only: int | None = None,
    confirm: bool = False,
    label: str | None = None,
) -> float:
    """Model `key` alone on its own server (all cores), searched `repeats` times on fresh servers (or
    only the `only`-th search): the mean λ. `then` runs further trials of that model alone on the first
    search's server (a server start and stop costs seconds), at that search's λ. `confirm`: on the
    confirmation's placements (a setting chosen as the best, searched again). `label`: the phase's, where
    the kind's plan could not know the placement's."""
    found = []
    for repeat in repeats(exp) if only is None else [only]:
        where = dedicated(exp, key, knobs, repeat, confirm)
        lab.phase(label or where.label())
        with lab.serve(where, (alone(exp, key, knobs),)) as server:
            (name,) = where.names
            found.append(peak_of(server, name))
            if then is not None and repeat == 1:
                then(server, name, found[0])
    return statistics.fmean(found)


def shared_on(
    exp: SharedExperiment,
    server: Server,
    peaks: Mapping[str, float],
    purpose: str = SHARED_PEAK,
    **params: Scalar,
) -> dict[str, float]:
    """On a server holding every model: the highest total rate meeting every SLA, rates in the `share`
    weights. Starts where sharing breaks even (Σ r/λ = 1)."""
    where = server.placement
    weights = exp.weights()
    total = sum(weights.values())
    shares = {t: weights[where.model_of(t)] / total for t in where.names}
    start = 1 / sum(shares[t] / peaks[where.model_of(t)] for t in where.names)
    found = server.search(
        lambda rate: {t: rate * s for t, s in shares.items()}, where.names, start, purpose, **params
    )
    return {t: found * s for t, s in shares.items()}


def shared_peak(
    exp: SharedExperiment,
    lab: Lab,
    peaks: Mapping[str, float],
    tenants: tuple[TenantConfig, ...] | None = None,
    setting: Mapping[str, Scalar] = {},
    first: int = 1,
    label: str | None = None,
) -> dict[str, float]:
    """The models sharing one server (of `tenants`, default as configured), searched `repeats` times on
    fresh servers from `first` on: see shared_on. The mean rates by tenant. `label`: each phase's, where
    the kind's plan could not know the placement's."""
    found = []
    for repeat in repeats(exp)[first - 1 :]:
        where = shared(exp, setting, repeat)
        lab.phase(label or where.label())
        with lab.serve(where, tenants or exp.models) as server:
            found.append(shared_on(exp, server, peaks))
    return {t: statistics.fmean(f[t] for f in found) for t in found[0]} if found else {}
