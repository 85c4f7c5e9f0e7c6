"""`perseus bench` as a function: the load and the server its settings ask for, one trial at the target
(a remote endpoint, or a server started for it), stored as a run with the URL and protocol really used."""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from perseus.config import ServerConfig
from perseus.config.knobs import Knobs
from perseus.config.loading import build
from perseus.config.serving import tenant_names
from perseus.core.errors import ConfigError
from perseus.core.paths import runs_dir
from perseus.core.progress import Reporter
from perseus.core.units import parse_model_rates
from perseus.loadgen import LoadSpec, SlaTarget, TenantRate, TrialRules, parse_sla, read_trace
from perseus.orchestrate.provenance import provenance
from perseus.orchestrate.targets import BACKENDS, Backend, remote_target, started_target
from perseus.orchestrate.trial import TrialOutcome, run_trial, spec_record
from perseus.store import Store

Arrival = Literal["constant", "poisson"]
STARTED_URL = "(started by perseus)"  # stored until the started server has its address


@dataclass(frozen=True)
class BenchSettings:
    """What the flags of `perseus bench` say, unchecked: run_bench checks them before recording a run."""

    models: tuple[str, ...] = ()  # remote: names to send to; embedded/inprocess: model specs to serve
    backend: str = "remote"
    url: str | None = None
    protocol: str = "grpc"
    metrics_url: str | None = None
    concurrency: int = 1
    rate: float | None = None
    arrival: str = "poisson"
    trace: Path | None = None
    mix: str | None = None
    workers: int = 1
    duration_s: float = 10.0
    until_stable: bool = False
    warmup_s: float = 2.0
    sla: str | None = None
    max_in_flight: int | None = None
    batch: int = 1
    timeout_s: float = 60.0
    seed: int = 0
    telemetry_interval_s: float = 1.0
    knobs: Knobs = field(default_factory=Knobs)


def parse_mix(text: str, arrival: Arrival, batch: int) -> tuple[TenantRate, ...]:
    """`resnet50=40,mobilenet_v2=120` → one arrival process per model at that many req/s."""
    rates = parse_model_rates((p.strip() for p in text.split(",") if p.strip()), "--mix")
    if not rates:
        raise ConfigError("--mix needs at least one MODEL=REQ_PER_S")
    return tuple(TenantRate(name, rate, arrival, batch) for name, rate in rates.items())


def named_models(mix: str | None, trace: Path | None) -> list[str]:
    """The models to serve when only --mix or --trace names them."""
    if mix is not None:
        return [rate.tenant for rate in parse_mix(mix, "poisson", 1)]
    if trace is not None:
        return sorted({arrival.tenant for arrival in read_trace(trace)})
    raise ConfigError("--model is required unless --mix or --trace names the models")


def load_spec(settings: BenchSettings, url: str, models: tuple[str, ...]) -> LoadSpec:
    """The load the settings ask for: a trace replay, a mix, an open loop at --rate, or a closed loop."""
    s = settings
    given = (("--rate", s.rate), ("--trace", s.trace), ("--mix", s.mix))
    chosen = [flag for flag, value in given if value is not None]
    if len(chosen) > 1:
        raise ConfigError(f"choose one of --rate, --trace and --mix (got {' and '.join(chosen)})")
    arrival = cast(Arrival, s.arrival)
    common: dict[str, Any] = dict(
        url=url,
        protocol=s.protocol,
        workers=s.workers,
        max_in_flight=s.max_in_flight,
        batch=s.batch,
        request_timeout_s=s.timeout_s,
        seed=s.seed,
    )
    if s.trace is not None:
        arrivals = tuple(read_trace(s.trace))
        tenants = tuple(sorted({a.tenant for a in arrivals}))
        return LoadSpec(tenants=tenants, mode="trace", trace=arrivals, **common)
    if s.mix is not None:
        rates = parse_mix(s.mix, arrival, s.batch)
        return LoadSpec(tenants=tuple(r.tenant for r in rates), mode="open", rates=rates, **common)
    if not models:
        raise ConfigError("--model is required unless --mix or --trace names the models")
    if s.rate is not None:
        rates = tuple(TenantRate(m, s.rate, arrival, s.batch) for m in models)
        return LoadSpec(tenants=models, mode="open", rates=rates, **common)
    return LoadSpec(tenants=models, mode="closed", concurrency=s.concurrency, **common)


def _check(settings: BenchSettings) -> None:
    if settings.arrival not in ("poisson", "constant"):
        raise ConfigError(f"--arrival must be poisson or constant, got {settings.arrival!r}")
    if settings.protocol not in ("grpc", "http"):
        raise ConfigError(f"--protocol must be grpc or http, got {settings.protocol!r}")
    if settings.backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {settings.backend!r}")
    if settings.backend == "remote" and settings.url is None:
        raise ConfigError("--url is required (or start a server with --backend embedded|inprocess)")
    if settings.backend != "remote" and (settings.url is not None or settings.metrics_url is not None):
        raise ConfigError(
            f"--url and --metrics-url are for --backend remote; {settings.backend} starts its own"
        )


def _server(settings: BenchSettings) -> tuple[tuple[str, ...], ServerConfig | None]:
    """The model names to send to, and the server to start for them (None: --backend remote)."""
    if settings.backend == "remote":
        return settings.models, None
    served = list(settings.models) or named_models(settings.mix, settings.trace)
    config = build(ServerConfig, "bench", tenants=settings.knobs.tenants(served))
    return tuple(tenant_names(served)), config


def _rules(settings: BenchSettings) -> TrialRules:
    if settings.until_stable:
        return TrialRules(
            warmup_s=settings.warmup_s,
            min_duration_s=min(5.0, settings.duration_s),
            max_duration_s=settings.duration_s,
        )
    return TrialRules.fixed(settings.duration_s, settings.warmup_s)


@dataclass(frozen=True)
class BenchPlan:
    """Checked settings: the load, its rules and SLA, and the server to start (None: --backend remote)."""

    settings: BenchSettings
    spec: LoadSpec
    rules: TrialRules
    sla: SlaTarget | None
    server: ServerConfig | None

    def record(self) -> dict[str, Any]:
        """The run's spec as stored: the trial's settings, the backend and the served config."""
        return {
            **spec_record(self.spec, self.rules, self.sla),
            "backend": self.settings.backend,
            "server": self.server.model_dump(mode="json") if self.server else None,
        }


def plan_bench(settings: BenchSettings) -> BenchPlan:
    """Every check of the settings (ConfigError on a mistake), before anything is started or stored."""
    _check(settings)
    names, server = _server(settings)
    spec = load_spec(settings, settings.url or STARTED_URL, names)
    sla = parse_sla(settings.sla) if settings.sla else None
    return BenchPlan(settings, spec, _rules(settings), sla, server)


def run_bench(
    settings: BenchSettings | BenchPlan, store: Store, reporter: Reporter
) -> tuple[int, TrialOutcome]:
    """Record a run, start or reach the target, run one trial: (run id, outcome). Settings are planned
    first; a caller that wants flag mistakes reported before it opens the store passes a plan.

    A server started for the run is stopped before this returns, whatever happens."""
    plan = settings if isinstance(settings, BenchPlan) else plan_bench(settings)
    spec, options = plan.spec, plan.settings
    with store.recording("bench", plan.record(), provenance()) as run_id:
        if plan.server is None:
            endpoint = remote_target(spec.url, spec.protocol, options.metrics_url)
        else:
            backend = cast(Backend, options.backend)
            endpoint = started_target(
                backend, plan.server, runs_dir() / f"run-{run_id}", spec.protocol, reporter
            )
        with endpoint as where:
            # A started server's address (and the in-process reference's own protocol) is known only now.
            store.amend_run_spec(run_id, url=where.url, protocol=where.protocol)
            spec = replace(spec, url=where.url, protocol=where.protocol)
            reporter.trial(f"{spec.mode} loop → {', '.join(spec.tenants)} ({where.description})", 0, 1)
            observe = where.observe
            if observe is not None:
                observe = replace(observe, interval_s=options.telemetry_interval_s)
            outcome = run_trial(store, run_id, "bench", spec, plan.rules, reporter, plan.sla, observe=observe)
    return run_id, outcome
