"""Cross-check our open-loop Poisson load against MLPerf LoadGen's Server scenario at the same QPS.

Both drive the same embedded tritonserver and model over HTTP; LoadGen schedules Poisson queries and
our SUT forwards each to the server with the same lean client perseus uses, so the difference is the
scheduling and the measuring. Both count latency from the scheduled time. Printed: p50 and p99 side by
side, medians of alternating rounds. Goal: p99 within 10%.

    .venv/bin/python benchmarks/crosscheck_loadgen.py [--qps 100] [--seconds 60] [--rounds 2]
"""

import argparse
import asyncio
import re
import statistics
import tempfile
import threading
from pathlib import Path

import mlperf_loadgen as lg

from _bench import add_client_cpu_option, pin_clients, ratio_line, server
from perseus.config import TenantConfig
from perseus.loadgen import LoadSpec, TenantRate, TrialRules, run_load, summarize
from perseus.loadgen.clients import HttpClient


def loadgen_run(url: str, model: str, qps: float, seconds: float) -> tuple[float, float]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    client = HttpClient(url, timeout_s=60, seed=0, max_connections=1024)
    asyncio.run_coroutine_threadsafe(client.check(), loop).result()
    asyncio.run_coroutine_threadsafe(client.prepare(model, 1), loop).result()

    async def one(sample_id: int) -> None:
        await client.infer(model, 1)
        lg.QuerySamplesComplete([lg.QuerySampleResponse(sample_id, 0, 0)])

    def issue(samples: list) -> None:  # type: ignore[type-arg]
        for sample in samples:
            loop.call_soon_threadsafe(loop.create_task, one(sample.id))

    settings = lg.TestSettings()
    settings.scenario = lg.TestScenario.Server
    settings.mode = lg.TestMode.PerformanceOnly
    settings.server_target_qps = qps
    settings.server_target_latency_ns = 1_000_000_000
    settings.min_duration_ms = round(seconds * 1000)
    settings.max_duration_ms = round(seconds * 1000 * 1.5)
    settings.min_query_count = round(qps * seconds)
    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(1024, 1024, lambda _: None, lambda _: None)
    with tempfile.TemporaryDirectory() as out:
        log = lg.LogOutputSettings()
        log.outdir = out
        log.copy_summary_to_stdout = False
        log_settings = lg.LogSettings()
        log_settings.log_output = log
        lg.StartTestWithLogSettings(sut, qsl, settings, log_settings)
        summary = (Path(out) / "mlperf_log_summary.txt").read_text()
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    asyncio.run_coroutine_threadsafe(client.close(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()

    def ns(label: str) -> float:
        match = re.search(rf"{re.escape(label)}\s*:\s*(\d+)", summary)
        if not match:
            raise SystemExit(f"LoadGen summary has no {label!r}:\n{summary}")
        return int(match.group(1)) / 1e6

    return ns("50.00 percentile latency (ns)"), ns("99.00 percentile latency (ns)")


def ours_run(url: str, model: str, qps: float, seconds: float, seed: int) -> tuple[float, float]:
    spec = LoadSpec(
        url=url,
        tenants=(model,),
        mode="open",
        protocol="http",
        seed=seed,
        rates=(TenantRate(model, qps, "poisson"),),
    )
    summary = summarize(run_load(spec, TrialRules.fixed(seconds, 2.0)))[model]
    return summary.p50_ms, summary.p99_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="synthetic-sleep:service_ms=10")
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--qps", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2)
    add_client_cpu_option(parser)
    args = parser.parse_args()
    with server(TenantConfig(model=args.model, instances=args.instances)) as running:
        name, url = running.tenants[0].name, running.endpoints.http_url
        pin_clients(args.client_cpu)
        print(
            f"model {args.model} × {args.instances} instances, Poisson {args.qps:g} QPS for {args.seconds:g} s, "
            f"HTTP; MLPerf LoadGen Server scenario vs perseus"
        )
        theirs, mine = [], []
        for round_ in range(args.rounds):
            theirs.append(loadgen_run(url, name, args.qps, args.seconds))
            mine.append(ours_run(url, name, args.qps, args.seconds, seed=round_))
        for index, label, goal in ((0, "p50 ms", 0.10), (1, "p99 ms", 0.10)):
            print(
                ratio_line(
                    label,
                    statistics.median(m[index] for m in mine),
                    statistics.median(t[index] for t in theirs),
                    goal,
                ),
                "  rounds:",
                " ".join(f"{m[index]:.2f}/{t[index]:.2f}" for m, t in zip(mine, theirs, strict=True)),
            )


if __name__ == "__main__":
    main()
