"""`perseus bench` flags → a checked plan: the load of each level (one, or a perf_analyzer-style sweep over
concurrency or request rate), the trial rules, the SLA, and the server to start. Every flag mistake and
every contradiction between flags is one ConfigError here, before anything starts or is stored."""

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from perseus.config import ServerConfig
from perseus.config.inputs import NORMAL, input_file, parse_input_data
from perseus.config.knobs import Knobs
from perseus.config.loading import build
from perseus.config.serving import tenant_names
from perseus.core.errors import ConfigError
from perseus.core.units import parse_model_rates
from perseus.loadgen import (
    LoadSpec,
    SlaTarget,
    TenantRate,
    TrialRules,
    derive_seed,
    parse_sla,
    read_trace,
)
from perseus.loadgen.schedule import Arrival as Scheduled
from perseus.models.inputs import read_input_file
from perseus.orchestrate.targets import BACKENDS
from perseus.orchestrate.trial import spec_record

Arrival = Literal["constant", "poisson"]
STARTED_URL = "(started by perseus)"  # stored until the started server has its address
DEFAULT_DURATION_S = 10.0
STABILITY_SAMPLES = 20  # completions a window needs before its latency can be compared with another's
MAX_LEVELS = 100


@dataclass(frozen=True)
class BenchSettings:
    """What the flags of `perseus bench` say, unchecked: plan_bench checks them."""

    models: tuple[str, ...] = ()  # remote: names to send to; embedded/inprocess: model specs to serve
    backend: str = "remote"
    url: str | None = None
    protocol: str = "grpc"
    metrics_url: str | None = None
    concurrency: int | None = None  # closed loop; None: 1 unless another mode is chosen
    concurrency_range: str | None = None  # START:END[:STEP], perf_analyzer's spelling
    rate: float | None = None
    request_rate_range: str | None = None
    arrival: str = "poisson"
    trace: Path | None = None
    mix: str | None = None
    workers: int = 1
    duration_s: float | None = None  # None: 10 s, or a trace's own length
    until_stable: bool = False
    warmup_s: float = 2.0
    sla: str | None = None
    latency_threshold_ms: float | None = None  # a sweep stops at the first level above it
    percentile: float | None = None  # None: stability and threshold on the mean, as perf_analyzer does
    measurement_interval_ms: float | None = None  # a stability window; None: duration / 3 (or 1 s)
    stability_percentage: float = 10.0
    max_trials: int | None = None  # most windows an --until-stable trial may take
    max_in_flight: int | None = None
    batch: int = 1
    timeout_s: float = 60.0
    seed: int = 0
    inputs: str = NORMAL  # the input values each request sends (config.inputs)
    telemetry_interval_s: float = 1.0
    knobs: Knobs = field(default_factory=Knobs)
    require_quiet_host: bool = False
    ray: str | None = None  # the workers are Ray actors on this cluster's nodes (auto or host:port)


@dataclass(frozen=True)
class Level:
    """One point of a sweep (or the single trial): what it is called and the load it offers."""

    name: str  # the stored trial's name: "bench", or "bench c=4" / "bench r=50" in a sweep
    concurrency: int | None  # closed loop
    rate_rps: float | None  # open loop, per model
    spec: LoadSpec

    @property
    def batch(self) -> int:
        """The largest batch a request of this level carries (a trace may mix sizes)."""
        return max(batch for _, batch in self.spec.needs())


def parse_mix(text: str, arrival: Arrival, batch: int) -> tuple[TenantRate, ...]:
    """`resnet50=40,mobilenet_v2=120` → one arrival process per model at that many req/s."""
    rates = parse_model_rates((p.strip() for p in text.split(",") if p.strip()), "--mix")
    if not rates:
        raise ConfigError("--mix needs at least one MODEL=REQ_PER_S")
    return tuple(TenantRate(name, rate, arrival, batch) for name, rate in rates.items())


def parse_range(text: str, flag: str) -> list[float]:
    """perf_analyzer's START:END[:STEP] (END included, STEP 1 by default) → the levels."""
    parts = text.split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (2, 3) or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"{flag} must be START:END[:STEP], e.g. 1:8:2, got {text!r}")
    start, end = values[0], values[1]
    step = values[2] if len(values) == 3 else 1.0
    if start <= 0 or end < start or step <= 0:
        raise ConfigError(f"{flag} {text!r}: need 0 < START ≤ END and STEP > 0")
    count = math.floor((end - start) / step + 1e-9) + 1
    if count > MAX_LEVELS:
        raise ConfigError(f"{flag} {text!r} makes {count} levels; at most {MAX_LEVELS}")
    return [round(start + i * step, 9) for i in range(count)]


def named_models(mix: str | None, trace: Path | None) -> list[str]:
    """The models to serve when only --mix or --trace names them."""
    if mix is not None:
        return [rate.tenant for rate in parse_mix(mix, "poisson", 1)]
    if trace is not None:
        return sorted({arrival.tenant for arrival in read_trace(trace)})
    raise ConfigError("--model is required unless --mix or --trace names the models")


def _mode_flags(s: BenchSettings) -> list[str]:
    given = (
        ("--concurrency", s.concurrency),
        ("--concurrency-range", s.concurrency_range),
        ("--rate", s.rate),
        ("--request-rate-range", s.request_rate_range),
        ("--trace", s.trace),
        ("--mix", s.mix),
    )
    return [flag for flag, value in given if value is not None]


def _check(s: BenchSettings) -> None:
    if s.arrival not in ("poisson", "constant"):
        raise ConfigError(f"--arrival must be poisson or constant, got {s.arrival!r}")
    if s.protocol not in ("grpc", "http"):
        raise ConfigError(f"--protocol must be grpc or http, got {s.protocol!r}")
    if s.backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {s.backend!r}")
    if s.backend == "remote" and s.url is None:
        raise ConfigError("--url is required (or start a server with --backend embedded|inprocess)")
    if s.backend != "remote" and (s.url is not None or s.metrics_url is not None):
        raise ConfigError(f"--url and --metrics-url are for --backend remote; {s.backend} starts its own")
    if s.backend == "remote" and s.knobs != Knobs():
        raise ConfigError(
            "serving knobs (--instances, --max-batch-size, batching, threads, --pin) configure a server "
            "perseus starts; with --backend remote the server at --url keeps its own configuration"
        )
    if s.ray is not None and s.backend == "inprocess":
        raise ConfigError(
            "--ray sends from actors on other processes; the in-process reference serves its own"
        )
    if s.ray is not None and not s.ray.strip():
        raise ConfigError("--ray needs auto or a cluster's host:port")
    if s.metrics_url is not None and not s.metrics_url.startswith(("http://", "https://")):
        raise ConfigError(f"--metrics-url needs a scheme, e.g. http://{s.metrics_url}, got {s.metrics_url!r}")
    chosen = _mode_flags(s)
    if len(chosen) > 1:
        raise ConfigError(
            "choose one of --concurrency, --concurrency-range, --rate, --request-rate-range, --trace and "
            f"--mix (got {' and '.join(chosen)})"
        )
    if s.models and (s.mix is not None or s.trace is not None):
        raise ConfigError(f"--model and {'--mix' if s.mix else '--trace'} both name the models; give one")
    if s.backend != "remote" and s.batch > s.knobs.max_batch_size:
        raise ConfigError(
            f"--batch {s.batch} is above --max-batch-size {s.knobs.max_batch_size}: the server would refuse "
            "every request"
        )
    if s.latency_threshold_ms is not None and not (s.concurrency_range or s.request_rate_range):
        raise ConfigError(
            "--latency-threshold ends a sweep: give --concurrency-range or --request-rate-range"
        )
    if s.percentile is not None and not 0 < s.percentile < 100:
        raise ConfigError(f"--percentile must be between 0 and 100, got {s.percentile:g}")
    if not 0 < s.stability_percentage < 100:
        raise ConfigError(f"--stability-percentage must be between 0 and 100, got {s.stability_percentage:g}")
    parse_input_data(s.inputs, "--input-data")
    path = input_file(s.inputs)
    if path is not None:
        try:
            read_input_file(path)  # its shapes are checked against each model before any load
        except ConfigError as exc:
            raise ConfigError(f"--input-data: {exc}") from None


def _server(s: BenchSettings) -> tuple[tuple[str, ...], ServerConfig | None]:
    """The model names to send to, and the server to start for them (None: --backend remote)."""
    if s.backend == "remote":
        return s.models, None
    served = list(s.models) or named_models(s.mix, s.trace)
    config = build(ServerConfig, "bench", tenants=s.knobs.tenants(served))
    return tuple(tenant_names(served)), config


def _levels(s: BenchSettings, url: str, models: tuple[str, ...]) -> list[Level]:
    """The load of each level: a trace replay, a mix, open loops at each rate, or closed loops."""
    arrival = cast(Arrival, s.arrival)
    common: dict[str, Any] = dict(
        url=url,
        protocol=s.protocol,
        workers=s.workers,
        on_ray=s.ray is not None,
        max_in_flight=s.max_in_flight,
        batch=s.batch,
        request_timeout_s=s.timeout_s,
        seed=s.seed,
        inputs=s.inputs,
    )
    if s.trace is not None:
        arrivals = tuple(read_trace(s.trace))
        tenants = tuple(sorted({a.tenant for a in arrivals}))
        return [Level("bench", None, None, LoadSpec(tenants=tenants, mode="trace", trace=arrivals, **common))]
    if s.mix is not None:
        rates = parse_mix(s.mix, arrival, s.batch)
        spec = LoadSpec(tenants=tuple(r.tenant for r in rates), mode="open", rates=rates, **common)
        return [Level("bench", None, None, spec)]
    if not models:
        raise ConfigError("--model is required unless --mix or --trace names the models")

    def open_at(rate: float, name: str, seed: int = s.seed) -> Level:
        rates = tuple(TenantRate(m, rate, arrival, s.batch) for m in models)
        spec = LoadSpec(tenants=models, mode="open", rates=rates, **{**common, "seed": seed})
        return Level(name, None, rate, spec)

    def closed_at(users: int, name: str) -> Level:
        return Level(name, users, None, LoadSpec(tenants=models, mode="closed", concurrency=users, **common))

    if s.request_rate_range is not None:
        # Each level draws its own arrivals from --seed: with one seed for all, every level would replay
        # one schedule (its gaps scaled by the rate), and the levels' noise would not be independent.
        names = [(r, f"bench r={r:g}") for r in parse_range(s.request_rate_range, "--request-rate-range")]
        return [open_at(r, name, derive_seed(s.seed, name)) for r, name in names]
    if s.rate is not None:
        return [open_at(s.rate, "bench")]
    if s.concurrency_range is not None:
        levels = parse_range(s.concurrency_range, "--concurrency-range")
        if any(c != int(c) for c in levels):
            raise ConfigError(f"--concurrency-range {s.concurrency_range!r} must step through whole users")
        if s.workers > int(levels[0]):
            raise ConfigError(f"--workers {s.workers} is more than the lowest concurrency {int(levels[0])}")
        return [closed_at(int(c), f"bench c={int(c)}") for c in levels]
    return [closed_at(s.concurrency or 1, "bench")]


def trace_duration_s(trace: tuple[Scheduled, ...], warmup_s: float) -> float:
    """A trace runs for its own length: from the end of warm-up to just past its last request."""
    span_s = trace[-1].t_ns / 1e9 + 1e-3
    if span_s <= warmup_s:
        raise ConfigError(
            f"the trace lasts {span_s:.3g} s, no longer than --warmup {warmup_s:g} s: "
            "nothing would be measured"
        )
    return span_s - warmup_s


def _rules(s: BenchSettings, duration_s: float) -> TrialRules:
    """perf_analyzer's stability rule by default: the last 3 windows agree on throughput and mean latency
    (or --percentile's) within --stability-percentage."""
    measure = "mean" if s.percentile is None else f"p{s.percentile:g}"
    tolerance = s.stability_percentage / 100
    window_s = (s.measurement_interval_ms or 0) / 1e3 or None
    if s.until_stable or s.max_trials is not None:
        window = window_s or 1.0
        longest = s.max_trials * window if s.max_trials is not None else duration_s
        rules = TrialRules(
            warmup_s=s.warmup_s,
            min_duration_s=min(3 * window, longest),  # as perf_analyzer: stable as soon as 3 windows agree
            max_duration_s=longest,
            window_s=window,
            min_window_requests=0 if window_s else 100,
            tolerance=tolerance,
            stability_latency=measure,
        )
    else:
        rules = TrialRules.fixed(duration_s, s.warmup_s)
        if window_s is not None:
            if window_s * rules.stable_windows > duration_s + 1e-9:
                raise ConfigError(
                    f"--duration {duration_s:g} s cannot hold {rules.stable_windows} windows of "
                    f"--measurement-interval {s.measurement_interval_ms:g} ms"
                )
            rules = replace(rules, window_s=window_s)
        rules = replace(rules, tolerance=tolerance, stability_latency=measure)
    return replace(rules, min_stability_samples=STABILITY_SAMPLES)


@dataclass(frozen=True)
class BenchPlan:
    """Checked settings: the levels, their rules and SLA, and the server to start (None: remote)."""

    settings: BenchSettings
    levels: tuple[Level, ...]
    rules: TrialRules
    sla: SlaTarget | None
    server: ServerConfig | None

    @property
    def spec(self) -> LoadSpec:
        """The first level's load (the only one unless this is a sweep)."""
        return self.levels[0].spec

    @property
    def sweep(self) -> bool:
        return self.settings.concurrency_range is not None or self.settings.request_rate_range is not None

    def record(self) -> dict[str, Any]:
        """The run's spec as stored: the first level's settings, the levels, the backend and the server."""
        return {
            **spec_record(self.spec, self.rules, self.sla),
            "backend": self.settings.backend,
            "server": self.server.model_dump(mode="json") if self.server else None,
            "levels": [level.name for level in self.levels],
            "latency_threshold_ms": self.settings.latency_threshold_ms,
            "percentile": self.settings.percentile,
        }


def plan_bench(settings: BenchSettings) -> BenchPlan:
    """Every check of the settings (ConfigError on a mistake), before anything is started or stored."""
    _check(settings)
    names, server = _server(settings)
    levels = _levels(settings, settings.url or STARTED_URL, names)
    duration = settings.duration_s
    if duration is None:
        trace = levels[0].spec.trace
        duration = trace_duration_s(trace, settings.warmup_s) if trace else DEFAULT_DURATION_S
    sla = parse_sla(settings.sla) if settings.sla else None
    return BenchPlan(settings, tuple(levels), _rules(settings, duration), sla, server)
