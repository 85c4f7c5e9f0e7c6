"""The experiment protocols (`perseus run FILE.yaml`): PERSEUS Fig 1 and Fig 2, VELTAIR's QoS sweep and
interference, and the knob grid, as sequences of probes on placements. Every trial is stored as it
finishes, under a name saying what it offered, so a re-run skips what is done."""

import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perseus.config import ServerConfig, TenantConfig
from perseus.config.experiment import Experiment
from perseus.config.serving import tenant_names
from perseus.core.errors import SlaNotMetError
from perseus.core.paths import runs_dir
from perseus.core.progress import Reporter
from perseus.models import resolve_model
from perseus.orchestrate.probe import Prober
from perseus.orchestrate.provenance import provenance
from perseus.orchestrate.search import Step, find_peak
from perseus.orchestrate.session import ServerSession
from perseus.store import Store

RUN_KIND = "experiment"
START_FRACTION = 0.8  # of the closed-loop estimate: open-loop Poisson load needs headroom to meet a p95


@dataclass
class Context:
    store: Store
    run_id: int
    experiment: Experiment
    reporter: Reporter
    run_dir: Path
    phases: int
    done: int = 0

    def next_phase(self, label: str) -> None:
        self.reporter.trial(label, self.done, self.phases)
        self.done += 1

    def models(self) -> list[tuple[str, TenantConfig]]:
        """(key, tenant) of each model; keys name models in trials and results (see Experiment.keys)."""
        return list(zip(self.experiment.model_keys(), self.experiment.models, strict=True))

    @contextmanager
    def placement(
        self,
        phase: str,
        tenants: tuple[TenantConfig, ...],
        keys: list[str],
        extra: dict[str, Any] | None = None,
    ) -> Iterator[Prober]:
        """A server holding these tenants, with a prober naming its trials after `phase`; each trial
        records which experiment model (key) every server tenant is."""
        folder = self.run_dir / phase.replace("/", "_").replace("|", "_")
        names = tenant_names([t.model for t in tenants])
        info = {"placement": phase, "models": dict(zip(names, keys, strict=True)), **(extra or {})}
        with ServerSession(ServerConfig(tenants=tenants), folder, self.reporter) as session:
            yield Prober(self.store, self.run_id, session, self.experiment, self.reporter, phase, info)


def peak_of(
    prober: Prober,
    tenant: str,
    held: Mapping[str, float] | None = None,
    label: str = "peak",
    start: float | None = None,
) -> float:
    """λ of `tenant` on this placement, with the other tenants held at fixed rates (`held`). Without a
    `start`, a short closed-loop look at the tenant alone says where to begin."""
    others = dict(held or {})
    start = start or START_FRACTION * prober.estimate()[tenant]

    def probe(rate: float) -> Step:
        return prober.step({**others, tenant: rate}, label, [tenant])

    found = find_peak(probe, start, prober.experiment.search, f"{prober.phase}: {tenant} ({label})")
    return found.peak_rps


AloneTrials = Callable[[Prober, str, float], None]  # (prober, tenant, λ): more trials on that server


def dedicated_peaks(
    ctx: Context,
    prefix: str = "",
    extra: dict[str, Any] | None = None,
    knobs: dict[str, Any] | None = None,
    then: AloneTrials | None = None,
) -> dict[str, float]:
    """Each model alone on its own server (all cores): λ by model key. `then` runs further trials of
    that model alone on the same server (a server start and stop costs seconds)."""
    peaks: dict[str, float] = {}
    for key, tenant in ctx.models():
        alone = tenant.model_copy(update={**(knobs or {}), "cpus": None}) if knobs is not None else tenant
        ctx.next_phase(f"{prefix}dedicated {key}")
        with ctx.placement(f"{prefix}dedicated/{key}", (alone,), [key], extra) as prober:
            name = prober.tenants()[0]
            peaks[key] = peak_of(prober, name)
            if then is not None:
                then(prober, name, peaks[key])
    return peaks


def shared_on(ctx: Context, prober: Prober, peaks: Mapping[str, float]) -> dict[str, float]:
    """On a server holding every model: the highest total rate meeting every SLA, rates in the `share`
    weights (default equal). Starts where sharing breaks even (Σ r/λ = 1)."""
    keys = ctx.experiment.model_keys()
    names = prober.tenants()
    share = ctx.experiment.share or {}
    weights = {n: share.get(ctx.experiment.base_of(k), 1.0) for n, k in zip(names, keys, strict=True)}
    shares = {n: w / sum(weights.values()) for n, w in weights.items()}
    start = 1 / sum(shares[n] / peaks[k] for n, k in zip(names, keys, strict=True))

    def probe(rate: float) -> Step:
        return prober.step({n: rate * shares[n] for n in names}, "shared peak", names)

    found = find_peak(probe, start, ctx.experiment.search, prober.phase)
    return {n: found.peak_rps * shares[n] for n in names}


def shared_peak(
    ctx: Context,
    peaks: Mapping[str, float],
    tenants: tuple[TenantConfig, ...],
    prefix: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, float]:
    """The models sharing one server of these tenants: see shared_on."""
    ctx.next_phase(f"{prefix}shared")
    with ctx.placement(f"{prefix}shared", tenants, ctx.experiment.model_keys(), extra) as prober:
        return shared_on(ctx, prober, peaks)


def run_peak(ctx: Context) -> None:
    dedicated_peaks(ctx)


def run_fig1(ctx: Context) -> None:
    shared_peak(ctx, dedicated_peaks(ctx), ctx.experiment.models)


def run_frontier(ctx: Context) -> None:
    """Fig 2, after Fig 1 (whose shared peak at equal share is one more frontier point); one shared
    server serves both."""
    peaks = dedicated_peaks(ctx)
    (key_a, _), (key_b, _) = ctx.models()
    ctx.next_phase("shared")
    with ctx.placement("shared", ctx.experiment.models, ctx.experiment.model_keys()) as prober:
        shared_on(ctx, prober, peaks)
        name_a, name_b = prober.tenants()
        for fraction in ctx.experiment.frontier.fractions:
            ctx.next_phase(f"frontier {key_a} at {fraction:.0%} of λ")
            try:
                held = {name_a: fraction * peaks[key_a]}
                start = (1 - fraction) * peaks[key_b]  # on the dedicated line: where sharing breaks even
                peak_of(prober, name_b, held, f"frontier f={fraction:g}", start)
            except SlaNotMetError as exc:
                ctx.reporter.status(f"no feasible point at {fraction:.0%}: {exc}")


def run_qos(ctx: Context) -> None:
    fractions = ctx.experiment.qos.fractions

    def alone(prober: Prober, name: str, peak: float) -> None:
        for f in fractions:
            prober.trial({name: f * peak}, f"qos f={f:g}")

    peaks = dedicated_peaks(ctx, then=alone)
    ctx.next_phase("qos co-located")
    with ctx.placement("shared", ctx.experiment.models, ctx.experiment.model_keys()) as prober:
        names = prober.tenants()
        for f in fractions:
            rates = {n: f * peaks[k] for n, k in zip(names, ctx.experiment.model_keys(), strict=True)}
            prober.trial(rates, f"qos f={f:g}")


def _pinned_copies(tenant: TenantConfig, copies: int, pinned: bool) -> tuple[TenantConfig, ...]:
    cores = sorted(os.sched_getaffinity(0))
    return tuple(
        tenant.model_copy(update={"cpus": (cores[i % len(cores)],) if pinned else None})
        for i in range(copies)
    )


def run_interference(ctx: Context) -> None:
    settings = ctx.experiment.interference
    lf = settings.load_fraction
    label = f"interference lf={lf:g}"

    def alone(prober: Prober, name: str, peak: float) -> None:  # the victim alone at its co-located load
        prober.trial({name: lf * peak}, label)

    peaks = dedicated_peaks(ctx, then=alone)
    for (k1, t1), (k2, t2) in itertools.combinations(ctx.models(), 2):
        ctx.next_phase(f"pair {k1} + {k2}")
        with ctx.placement(f"pair/{k1}+{k2}", (t1, t2), [k1, k2]) as prober:
            n1, n2 = prober.tenants()
            rates = {n1: lf * peaks[k1], n2: lf * peaks[k2]}
            prober.trial(rates, label)
            if settings.peaks:
                for victim, aggressor in ((n1, n2), (n2, n1)):
                    victim_peak = peaks[k1 if victim == n1 else k2]
                    held, label = {aggressor: rates[aggressor]}, f"peak beside {aggressor}"
                    try:
                        peak_of(prober, victim, held, label, (1 - lf) * victim_peak)
                    except SlaNotMetError as exc:
                        ctx.reporter.status(str(exc))
    if settings.copies >= 2:
        key, tenant = ctx.models()[0]
        per_copy = lf * peaks[key] / settings.copies
        for pinned in settings.pinning:
            suffix = "pinned" if pinned else "unpinned"
            ctx.next_phase(f"{settings.copies} × {key} {suffix}")
            with ctx.placement(f"copies1/{suffix}", _pinned_copies(tenant, 1, pinned), [key]) as prober:
                prober.trial({prober.tenants()[0]: per_copy}, f"copies n=1 lf={lf:g}")
            group = _pinned_copies(tenant, settings.copies, pinned)
            keys = tenant_names([key] * settings.copies)
            with ctx.placement(f"copies{settings.copies}/{suffix}", group, keys) as prober:
                prober.trial({n: per_copy for n in prober.tenants()}, f"copies n={settings.copies} lf={lf:g}")


def knob_settings(experiment: Experiment) -> list[dict[str, Any]]:
    grid = experiment.knobs
    return [
        {"instances": i, "dynamic_batching": d, "intra_op_threads": t, "pinning": p}
        for i, d, t, p in itertools.product(
            grid.instances, grid.dynamic_batching, grid.intra_op_threads, grid.pinning
        )
    ]


def knob_prefixes(index: int, setting: Mapping[str, Any]) -> tuple[str, str]:
    """Trial-name prefixes of one setting: dedicated peaks are named by the knobs that change them (not
    pinning, a shared-placement knob), so settings that differ only in pinning share those trials."""
    dedicated = "knobs[i{instances}-b{db}-t{intra_op_threads}]/".format(
        db=int(setting["dynamic_batching"]), **setting
    )
    return dedicated, f"knobs[{index}]/"


def run_knobs(ctx: Context) -> None:
    cores = sorted(os.sched_getaffinity(0))
    models = ctx.experiment.models
    for index, setting in enumerate(knob_settings(ctx.experiment)):
        dedicated_prefix, prefix = knob_prefixes(index, setting)
        extra = {"setting": setting}
        knobs = {k: setting[k] for k in ("instances", "dynamic_batching", "intra_op_threads")}
        try:
            peaks = dedicated_peaks(ctx, dedicated_prefix, extra, knobs)
            # Split pinning divides the cores among the tenants (tenant i gets every len(models)-th core).
            split = setting["pinning"] == "split"
            shared = tuple(
                t.model_copy(
                    update={
                        **knobs,
                        "cpus": (tuple(cores[i :: len(models)]) or (cores[0],)) if split else None,
                    }
                )
                for i, t in enumerate(models)
            )
            shared_peak(ctx, peaks, shared, prefix, extra)
        except SlaNotMetError as exc:
            ctx.reporter.status(f"setting {setting}: {exc}")


PROTOCOLS: dict[str, tuple[Callable[[Context], None], Callable[[Experiment], int]]] = {
    "peak": (run_peak, lambda e: len(e.models)),
    "dedicated-vs-multitenant": (run_fig1, lambda e: len(e.models) + 1),
    "frontier": (run_frontier, lambda e: len(e.models) + 1 + len(e.frontier.fractions)),
    "qos-sweep": (run_qos, lambda e: 2 * len(e.models) + 1),
    "interference": (
        run_interference,
        lambda e: len(e.models) + len(e.models) * (len(e.models) - 1) // 2 + len(e.interference.pinning),
    ),
    "knobs": (
        run_knobs,
        lambda e: (
            (len(e.models) + 1)
            * len(e.knobs.instances)
            * len(e.knobs.dynamic_batching)
            * len(e.knobs.intra_op_threads)
            * len(e.knobs.pinning)
        ),
    ),
}


def run_experiment(experiment: Experiment, store: Store, reporter: Reporter, fresh: bool = False) -> int:
    """Run (or resume) the experiment; returns its run id. A finished run with the same spec is not
    measured again unless `fresh`."""
    spec = experiment.model_dump(mode="json")
    previous = None if fresh else store.find_run(RUN_KIND, spec)
    if previous is not None and previous.status == "done":
        reporter.status(f"already measured as run {previous.id} (use --fresh to measure again)")
        return previous.id
    for tenant in experiment.models:  # unknown models fail here, before any trial; CNNs export up front
        resolve_model(tenant.model, on_status=reporter.status)
    if previous is not None:
        kept = len(store.trials(previous.id))
        reporter.status(f"resuming run {previous.id}: {kept} finished trials are kept and not re-run")
    run, count = PROTOCOLS[experiment.kind]
    with store.recording(RUN_KIND, spec, provenance(), resume=previous.id if previous else None) as run_id:
        ctx = Context(store, run_id, experiment, reporter, runs_dir() / f"run-{run_id}", count(experiment))
        run(ctx)
    return run_id
