"""Cross-check `perseus bench` against perf_analyzer 2.51 on the same server, model, concurrency and input
values.

The server's work depends on the input values (a real model's, not the sleeping default's), so the tools
are compared at equal inputs (--inputs): `zeros` is perseus `--input-data zeros` against perf_analyzer
`--input-data zero`; `random` is perseus `--input-data random` against perf_analyzer's default, the same
bytes (glibc rand() from seed 1, see perseus.models.inputs). For each protocol, input kind and
concurrency, the two tools run back to back (batch 1) on one embedded tritonserver, --rounds times, the
one going first alternating from round to round. Printed: throughput and p50, medians of each tool, and
the median of the per-round ratios (a round's two runs are adjacent in time, so a slow drift of this
noisy host hits both alike; that ratio is what the goal is judged on), and at the end the throughput
ratio at c=4 for each protocol and input kind. Goal: throughput within 3%, p50 within 5%.

Triton's own statistics are the referee: for every run the server's mean time per request (queue and
compute, from /metrics) and its compute-infer time (the model alone: equal inputs, equal work) are read,
so what is left of each tool's mean latency is its client and the network. Little's law closes the loop:
concurrency ÷ throughput must equal each tool's mean latency.

    .venv/bin/python benchmarks/crosscheck_perf_analyzer.py [--model squeezenet1_1] [--instances 1]
        [--inputs zeros,random] [--concurrency 1,2,4] [--rounds 5] [--server-cpu 0 --client-cpu 1]
"""

import argparse
import dataclasses
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from _bench import add_client_cpu_option, pa_closed_loop, perf_analyzer, pin_clients, ratio_line, server
from perseus.config import TenantConfig
from perseus.loadgen import LoadSpec, TrialRules, run_load, summarize
from perseus.telemetry.breakdown import breakdown
from perseus.telemetry.triton_metrics import scrape

# perf_analyzer's CSV splits its mean latency into these parts (µs); their sum is its mean latency.
PA_PARTS = (
    "Client Send",
    "Network+Server Send/Recv",
    "Server Queue",
    "Server Compute Input",
    "Server Compute Infer",
    "Server Compute Output",
    "Client Recv",
)


@dataclass(frozen=True)
class Run:
    throughput_rps: float
    p50_ms: float
    mean_ms: float
    server_ms: float = float("nan")  # Triton's mean time per request during the run
    infer_ms: float = float("nan")  # Triton's compute-infer time per request: the model's own work


# perf_analyzer's spelling of each input kind: its default data is the random bytes perseus names `random`.
PA_INPUTS = {"zeros": ("--input-data", "zero"), "random": ()}


def pa_measure(
    binary: str, env: dict[str, str], url: str, model: str, concurrency: int, protocol: str, inputs: str
) -> Run:
    row = pa_closed_loop(binary, env, url, model, concurrency, protocol, ("-s", "10", *PA_INPUTS[inputs]))
    mean_us = sum(float(row[part]) for part in PA_PARTS)
    return Run(float(row["Inferences/Second"]), float(row["p50 latency"]) / 1000, mean_us / 1000)


def ours(url: str, model: str, concurrency: int, protocol: str, inputs: str) -> Run:
    spec = LoadSpec(url=url, tenants=(model,), concurrency=concurrency, protocol=protocol, inputs=inputs)  # type: ignore[arg-type]
    summary = summarize(run_load(spec, TrialRules.fixed(9.0, 2.0)))[model]
    return Run(summary.throughput_rps, summary.p50_ms, summary.mean_ms)


def refereed(metrics_url: str, model: str, measure: Callable[[], Run]) -> Run:
    before = scrape(metrics_url)
    run = measure()
    server = breakdown(before, scrape(metrics_url))[model]
    return dataclasses.replace(
        run,
        server_ms=(server.request_us or float("nan")) / 1000,
        infer_ms=(server.compute_infer_us or float("nan")) / 1000,
    )


def report(label: str, concurrency: int, mine: list[Run], theirs: list[Run]) -> float:
    """Print the comparison; returns the throughput ratio (the median of the rounds' ratios)."""
    ratios: dict[str, float] = {}
    for name, pick, goal in (("throughput req/s", "throughput_rps", 0.03), ("p50 ms", "p50_ms", 0.05)):
        values = [(getattr(m, pick), getattr(t, pick)) for m, t in zip(mine, theirs, strict=True)]
        paired = ratios[pick] = statistics.median(m / t for m, t in values)
        print(
            ratio_line(
                f"{label} {name}",
                statistics.median(m for m, _ in values),
                statistics.median(t for _, t in values),
                goal,
                ratio=paired,
            ),
            "  rounds:",
            " ".join(f"{m:.1f}/{t:.1f}" for m, t in values),
        )

    def med(runs: list[Run], pick: Callable[[Run], float]) -> float:
        return statistics.median(map(pick, runs))

    print(
        f"{'':<8}mean ms ours / PA: latency {med(mine, lambda r: r.mean_ms):.2f} / {med(theirs, lambda r: r.mean_ms):.2f}"
        f" = in the server {med(mine, lambda r: r.server_ms):.2f} / {med(theirs, lambda r: r.server_ms):.2f}"
        f" + client and network {med(mine, lambda r: r.mean_ms - r.server_ms):.2f}"
        f" / {med(theirs, lambda r: r.mean_ms - r.server_ms):.2f};"
        f" c ÷ throughput {med(mine, lambda r: 1000 * concurrency / r.throughput_rps):.2f}"
        f" / {med(theirs, lambda r: 1000 * concurrency / r.throughput_rps):.2f};"
        f" model compute-infer {med(mine, lambda r: r.infer_ms):.2f} / {med(theirs, lambda r: r.infer_ms):.2f}",
        flush=True,
    )
    return ratios["throughput_rps"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="synthetic-sleep:service_ms=5")
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--protocol", default="grpc,http", help="grpc, http, or grpc,http")
    parser.add_argument(
        "--inputs",
        default="zeros,random",
        help="input kinds both tools send, comma-separated: zeros (perf_analyzer --input-data zero), "
        "random (perf_analyzer's default random bytes)",
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating runs of each tool; medians compared"
    )
    add_client_cpu_option(parser)
    args = parser.parse_args()
    binary, env = perf_analyzer()
    with server(TenantConfig(model=args.model, instances=args.instances), cpu=args.server_cpu) as running:
        name, metrics_url = running.tenants[0].name, running.endpoints.metrics_url
        pin_clients(args.client_cpu)
        print(
            f"model {args.model} × {args.instances} instances, batch 1, {args.rounds} rounds; "
            f"server on cpu {args.server_cpu if args.server_cpu is not None else 'any'}, "
            f"load tools on cpu {args.client_cpu if args.client_cpu is not None else 'any'}; "
            f"perf_analyzer 2.51 vs perseus at equal inputs ({args.inputs})"
        )
        at_c4: list[str] = []
        for protocol in args.protocol.split(","):
            url = running.endpoints.grpc_url if protocol == "grpc" else running.endpoints.http_url
            for inputs in args.inputs.split(","):
                if inputs not in PA_INPUTS:
                    raise SystemExit(f"--inputs: {inputs!r} is not one of {', '.join(PA_INPUTS)}")
                for concurrency in (int(c) for c in args.concurrency.split(",")):

                    def pa_run(c: int = concurrency, i: str = inputs, u: str = url, p: str = protocol) -> Run:
                        return pa_measure(binary, env, u, name, c, p, i)

                    def our_run(
                        c: int = concurrency, i: str = inputs, u: str = url, p: str = protocol
                    ) -> Run:
                        return ours(u, name, c, p, i)

                    theirs, mine = [], []
                    for round_ in range(args.rounds):  # who goes first alternates: drifts hit both alike
                        first_pa = round_ % 2 == 0
                        for tool in ("pa", "ours") if first_pa else ("ours", "pa"):
                            if tool == "pa":
                                theirs.append(refereed(metrics_url, name, pa_run))
                            else:
                                mine.append(refereed(metrics_url, name, our_run))
                    ratio = report(f"{protocol} {inputs} c={concurrency}", concurrency, mine, theirs)
                    if concurrency == 4:
                        at_c4.append(f"{protocol} {inputs}: {ratio:.3f}")
        if at_c4:
            print("throughput ratio ours / perf_analyzer at c=4, equal inputs: " + "; ".join(at_c4))


if __name__ == "__main__":
    main()
