"""Cross-check `perseus bench` against perf_analyzer 2.51 on the same server, model and concurrency.

For each concurrency, perf_analyzer and our closed loop run back to back (gRPC, batch 1) on one embedded
tritonserver; printed: throughput and p50 side by side with their ratio. Goal: throughput within 3%,
p50 within 5%. Each tool runs --rounds times, alternating; medians are compared.

    .venv/bin/python benchmarks/crosscheck_perf_analyzer.py [--model synthetic-cpu] [--instances 4]
"""

import argparse
import statistics

from _bench import add_client_cpu_option, pa_closed_loop, perf_analyzer, pin_clients, ratio_line, server
from perseus.config import TenantConfig
from perseus.loadgen import LoadSpec, TrialRules, run_load, summarize


def pa_measure(
    binary: str, env: dict[str, str], url: str, model: str, concurrency: int, protocol: str
) -> tuple[float, float]:
    row = pa_closed_loop(binary, env, url, model, concurrency, protocol, ("-s", "10"))
    return float(row["Inferences/Second"]), float(row["p50 latency"]) / 1000


def ours(url: str, model: str, concurrency: int, protocol: str) -> tuple[float, float]:
    spec = LoadSpec(url=url, tenants=(model,), concurrency=concurrency, protocol=protocol)  # type: ignore[arg-type]
    summary = summarize(run_load(spec, TrialRules.fixed(9.0, 2.0)))[model]
    return summary.throughput_rps, summary.p50_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="synthetic-sleep:service_ms=5")
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--protocol", default="grpc", help="grpc, http, or grpc,http")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating runs of each tool; medians compared"
    )
    add_client_cpu_option(parser)
    args = parser.parse_args()
    binary, env = perf_analyzer()
    with server(TenantConfig(model=args.model, instances=args.instances)) as running:
        name = running.tenants[0].name
        pin_clients(args.client_cpu)
        print(f"model {args.model} × {args.instances} instances, batch 1; perf_analyzer 2.51 vs perseus")
        for protocol in args.protocol.split(","):
            url = running.endpoints.grpc_url if protocol == "grpc" else running.endpoints.http_url
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                theirs, mine = [], []
                for _ in range(args.rounds):  # alternate, so slow drifts of a noisy host hit both alike
                    theirs.append(pa_measure(binary, env, url, name, concurrency, protocol))
                    mine.append(ours(url, name, concurrency, protocol))
                for index, label, goal in ((0, "throughput req/s", 0.03), (1, "p50 ms", 0.05)):
                    our_median = statistics.median(m[index] for m in mine)
                    pa_median = statistics.median(t[index] for t in theirs)
                    print(
                        ratio_line(f"{protocol} c={concurrency} {label}", our_median, pa_median, goal),
                        "  rounds:",
                        " ".join(f"{m[index]:.1f}/{t[index]:.1f}" for m, t in zip(mine, theirs, strict=True)),
                        flush=True,
                    )


if __name__ == "__main__":
    main()
