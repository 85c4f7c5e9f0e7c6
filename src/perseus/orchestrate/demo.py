"""The headline experiment: each model dedicated, then both sharing one server, on the embedded Triton."""

from collections.abc import Callable
from pathlib import Path

from perseus.config import DemoConfig, ServerConfig, TenantConfig
from perseus.core.paths import runs_dir
from perseus.core.progress import Reporter
from perseus.loadgen import ALL, LoadSpec, TrialRules
from perseus.models import resolve_model
from perseus.orchestrate.provenance import provenance
from perseus.orchestrate.session import ServerSession
from perseus.serving import RunningServer
from perseus.store import Store

DEMO_KIND = "demo"


def demo_rules(config: DemoConfig) -> TrialRules:
    """At least trial_s measured; stop once 3 windows of ≥100 requests agree; at most 3 × trial_s."""
    return TrialRules(
        warmup_s=config.warmup_s, min_duration_s=config.trial_s, max_duration_s=3 * config.trial_s
    )


def closed_loop(concurrency: int) -> Callable[[RunningServer], LoadSpec]:
    """c virtual users over gRPC, each alternating the server's models (equal request share)."""

    def spec(server: RunningServer) -> LoadSpec:
        # gRPC, like the paper's client: CNN inputs (600 KB) travel faster than over Triton's HTTP.
        names = tuple(t.name for t in server.tenants)
        return LoadSpec(url=server.endpoints.grpc_url, tenants=names, concurrency=concurrency)

    return spec


def _sweep(
    store: Store,
    run_id: int,
    run_dir: Path,
    config: DemoConfig,
    models: tuple[str, ...],
    label: str,
    reporter: Reporter,
    step: list[int],
    total: int,
) -> None:
    """Raise closed-loop concurrency on one server until the SLA breaks (more users only add queueing)."""
    server_config = ServerConfig(
        tenants=tuple(TenantConfig(model=m, instances=config.instances) for m in models)
    )
    with ServerSession(server_config, run_dir / label.replace("/", "_"), reporter) as session:
        for concurrency in config.concurrencies:
            reporter.trial(f"{label} c={concurrency}", step[0], total)
            step[0] += 1
            outcome = session.trial(
                store,
                run_id,
                f"{label}/c={concurrency}",
                closed_loop(concurrency),
                demo_rules(config),
                extra={"placement": label.split("/")[0], "models": list(models)},
            )
            # More closed-loop users past the SLA only add queueing; an unstable level is skipped, not final.
            if any(s.p95_ms > config.sla_p95_ms for t, s in outcome.summaries.items() if t != ALL):
                step[0] += len(config.concurrencies) - config.concurrencies.index(concurrency) - 1
                return


def run_demo(config: DemoConfig, store: Store, reporter: Reporter) -> int:
    """Run the demo and return its run id; finished trials are stored as they complete."""
    for model in config.models:
        resolve_model(model, on_status=reporter.status)  # export up front, outside any timed trial
    with store.recording(DEMO_KIND, config.model_dump(mode="json"), provenance()) as run_id:
        run_dir = runs_dir() / f"run-{run_id}"
        total = len(config.concurrencies) * (len(config.models) + 1)
        step = [0]
        for model in config.models:
            _sweep(store, run_id, run_dir, config, (model,), f"dedicated/{model}", reporter, step, total)
        _sweep(store, run_id, run_dir, config, config.models, "multitenant", reporter, step, total)
    return run_id
