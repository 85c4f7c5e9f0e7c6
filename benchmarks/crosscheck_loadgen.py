"""Cross-check our open-loop Poisson load against MLPerf LoadGen's Server scenario at the same QPS.

Both drive the same embedded tritonserver and model over HTTP; LoadGen schedules Poisson queries and
our SUT forwards each to the server with the same lean client perseus uses, so the difference is the
scheduling and the measuring. Both count latency from the scheduled time, over every request (no
warm-up is dropped on either side). Each round runs three trials:

  LoadGen   its Server scenario, schedule seed = round + 1 (LoadGen's own default seed is one fixed
            schedule; at 100 QPS for 60 s it is a light-tailed draw, ~2.3% under the asked rate)
  ours      our Poisson at the same QPS, seed = round
  replay    ours replaying LoadGen's schedule of that round (the times LoadGen handed each query to
            the SUT), so both tools measure the very same arrivals

The p99 of a 2-server queue at ρ ≈ 0.5 varies ±8% between Poisson draws of 6,000 requests, so the
independent comparison takes medians over rounds with different seeds; the replay shows what is left
when the arrivals are the same. Goal: p99 within 10%.

    .venv/bin/python benchmarks/crosscheck_loadgen.py [--qps 100] [--seconds 120] [--rounds 3]
"""

import argparse
import asyncio
import re
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import mlperf_loadgen as lg

from _bench import add_client_cpu_option, pin_clients, ratio_line, server
from perseus.config import TenantConfig
from perseus.loadgen import LoadSpec, TenantRate, TrialRules, run_load, summarize
from perseus.loadgen.clients import HttpClient
from perseus.loadgen.schedule import Arrival


@dataclass(frozen=True)
class Measured:
    p50_ms: float
    p99_ms: float
    rate_rps: float  # the rate the schedule actually offered


def loadgen_settings(qps: float, seconds: float, seed: int) -> "lg.TestSettings":
    settings = lg.TestSettings()
    settings.scenario = lg.TestScenario.Server
    settings.mode = lg.TestMode.PerformanceOnly
    settings.server_target_qps = qps
    settings.server_target_latency_ns = 1_000_000_000
    settings.min_duration_ms = round(seconds * 1000)
    settings.max_duration_ms = round(seconds * 1000 * 1.5)
    settings.min_query_count = round(qps * seconds)
    settings.schedule_rng_seed = seed
    return settings


def summary_ms(summary: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s*:\s*([\d.]+)", summary)
    if not match:
        raise SystemExit(f"LoadGen summary has no {label!r}:\n{summary}")
    return float(match.group(1))


def loadgen_run(url: str, model: str, settings: "lg.TestSettings") -> tuple[Measured, list[int]]:
    """LoadGen's own p50/p99 and, in order, the monotonic times it handed each query to our SUT."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    client = HttpClient(url, timeout_s=60, seed=0, max_connections=1024)
    asyncio.run_coroutine_threadsafe(client.check(), loop).result()
    asyncio.run_coroutine_threadsafe(client.prepare(model, 1), loop).result()
    issued: list[int] = []

    async def one(sample_id: int) -> None:
        await client.infer(model, 1)
        lg.QuerySamplesComplete([lg.QuerySampleResponse(sample_id, 0, 0)])

    def issue(samples: list) -> None:  # type: ignore[type-arg]
        now = time.monotonic_ns()
        for sample in samples:
            issued.append(now)
            loop.call_soon_threadsafe(loop.create_task, one(sample.id))

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
    measured = Measured(
        summary_ms(summary, "50.00 percentile latency (ns)") / 1e6,
        summary_ms(summary, "99.00 percentile latency (ns)") / 1e6,
        summary_ms(summary, "Scheduled samples per second"),
    )
    return measured, issued


def ours_run(spec: LoadSpec, seconds: float) -> Measured:
    trial = run_load(spec, TrialRules.fixed(seconds, 0.0))
    summary = summarize(trial)[spec.tenants[0]]
    return Measured(summary.p50_ms, summary.p99_ms, summary.requests / seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="synthetic-sleep:service_ms=10")
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--qps", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rounds", type=int, default=3)
    add_client_cpu_option(parser)
    args = parser.parse_args()
    with server(TenantConfig(model=args.model, instances=args.instances), cpu=args.server_cpu) as running:
        name, url = running.tenants[0].name, running.endpoints.http_url
        pin_clients(args.client_cpu)
        print(
            f"model {args.model} × {args.instances} instances, Poisson {args.qps:g} QPS for {args.seconds:g} s, "
            f"HTTP, {args.rounds} rounds; MLPerf LoadGen Server scenario vs perseus"
        )
        theirs, mine, replays = [], [], []
        for round_ in range(args.rounds):
            settings = loadgen_settings(args.qps, args.seconds, seed=round_ + 1)
            measured, issued = loadgen_run(url, name, settings)
            theirs.append(measured)
            open_spec = LoadSpec(
                url=url,
                tenants=(name,),
                mode="open",
                protocol="http",
                seed=round_,
                rates=(TenantRate(name, args.qps, "poisson"),),
            )
            mine.append(ours_run(open_spec, args.seconds))
            trace = tuple(Arrival(t - issued[0], name, 1) for t in issued)
            replay_spec = LoadSpec(url=url, tenants=(name,), mode="trace", trace=trace, protocol="http")
            replays.append(ours_run(replay_spec, trace[-1].t_ns / 1e9 + 0.001))
            print(
                f"  round {round_ + 1}: p99 LoadGen {measured.p99_ms:.2f} ({measured.rate_rps:.1f} req/s scheduled)"
                f" · ours {mine[-1].p99_ms:.2f} ({mine[-1].rate_rps:.1f} req/s)"
                f" · ours on LoadGen's schedule {replays[-1].p99_ms:.2f}",
                flush=True,
            )
        for title, ours in (("independent Poisson draws", mine), ("the same arrivals (replay)", replays)):
            print(f"{title}, medians over rounds:")
            for label, pick in (("p50 ms", lambda m: m.p50_ms), ("p99 ms", lambda m: m.p99_ms)):
                print(
                    "  "
                    + ratio_line(
                        label, statistics.median(map(pick, ours)), statistics.median(map(pick, theirs)), 0.10
                    )
                )


if __name__ == "__main__":
    main()
