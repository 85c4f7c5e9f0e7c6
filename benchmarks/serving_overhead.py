"""Serving overhead: a model's peak throughput through the embedded Triton vs the in-process reference
(the same ONNX run by onnxruntime directly, same instances, threads and cores), printed as a ratio.

Two set-ups: batch 1 (N instances × T intra-op threads, closed loop at 2N users) and dynamic batching
(one instance, the batcher merging up to --max-batch queued requests). Both backends run alternately,
--rounds times each, against servers started once; medians are compared. Goal: Triton ≥ 90% of the
reference. The load generator shares the host's cores with both, alike.

    .venv/bin/python benchmarks/serving_overhead.py [--model resnet50] [--seconds 15] [--rounds 2]
"""

import argparse
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from perseus.config import ServerConfig, TenantConfig
from perseus.loadgen import LoadSpec, TrialRules, run_load, summarize
from perseus.loadgen.client_base import Protocol_
from perseus.serving import embedded_server
from perseus.serving.inprocess import inprocess_server


@dataclass(frozen=True)
class Endpoint:
    url: str
    protocol: Protocol_
    name: str
    pids: list[int]


@contextmanager
def both(tenant: TenantConfig) -> Iterator[tuple[Endpoint, Endpoint]]:
    """The embedded Triton and the in-process reference for one tenant, both running at once (each
    idle while the other is measured)."""
    config = ServerConfig(tenants=(tenant,))
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="perseus-overhead-")))
        triton = stack.enter_context(embedded_server(config, folder / "triton"))
        reference = stack.enter_context(inprocess_server(config, folder / "inprocess"))
        name = triton.tenants[0].name
        yield (
            Endpoint(triton.endpoints.grpc_url, "grpc", name, triton.tenant_pids()[name]),
            Endpoint(reference.url, "inprocess", name, reference.tenant_pids()[name]),
        )


def measure(endpoint: Endpoint, concurrency: int, seconds: float) -> tuple[float, float]:
    spec = LoadSpec(
        url=endpoint.url, tenants=(endpoint.name,), concurrency=concurrency, protocol=endpoint.protocol
    )
    summary = summarize(run_load(spec, TrialRules.fixed(seconds, 3.0)))[endpoint.name]
    if summary.errors:
        raise SystemExit(f"{endpoint.protocol}: {summary.errors} requests failed: {summary.errors_by_kind}")
    return summary.throughput_rps, summary.p50_ms


def compare(label: str, tenant: TenantConfig, concurrency: int, seconds: float, rounds: int) -> float:
    with both(tenant) as (triton, reference):
        served, direct = [], []
        for _ in range(rounds):  # alternate, so slow drifts of a noisy host hit both alike
            served.append(measure(triton, concurrency, seconds))
            direct.append(measure(reference, concurrency, seconds))
    ratio = statistics.median(s[0] for s in served) / statistics.median(d[0] for d in direct)
    print(
        f"{label:<44} triton {statistics.median(s[0] for s in served):7.2f} req/s "
        f"(p50 {statistics.median(s[1] for s in served):7.1f} ms)   in-process "
        f"{statistics.median(d[0] for d in direct):7.2f} req/s (p50 {statistics.median(d[1] for d in direct):7.1f} ms)"
        f"   ratio {ratio:5.3f}  (goal ≥ 0.90: {'ok' if ratio >= 0.9 else 'SHORT'})   rounds: "
        + " ".join(f"{s[0]:.1f}/{d[0]:.1f}" for s, d in zip(served, direct, strict=True)),
        flush=True,
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--instances", type=int, default=2, help="batch-1 set-up: instances")
    parser.add_argument("--threads", type=int, default=1, help="batch-1 set-up: intra-op threads each")
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--queue-delay-us", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per trial")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"{args.model}: embedded tritonserver (gRPC, batch-1 requests) vs in-process onnxruntime")
    compare(
        f"batch 1: {args.instances} inst × {args.threads} thr, c={2 * args.instances}",
        TenantConfig(model=args.model, instances=args.instances, intra_op_threads=args.threads),
        2 * args.instances,
        args.seconds,
        args.rounds,
    )
    compare(
        f"dynamic batching ≤{args.max_batch}, 1 inst, c={2 * args.max_batch}",
        TenantConfig(
            model=args.model,
            max_batch_size=args.max_batch,
            dynamic_batching=True,
            max_queue_delay_us=args.queue_delay_us,
        ),
        2 * args.max_batch,
        args.seconds,
        args.rounds,
    )


if __name__ == "__main__":
    main()
