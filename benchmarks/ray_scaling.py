"""What Ray scale-out gives on this host, measured side by side.

1. Load from many generators: against one embedded server with a trivial model, the highest open-loop
   (Poisson) rate at which every sender kept up (≤ 1% of its sends more than 5 ms late, or fewer than 5 late sends; no errors), for
   the in-process generator and for 1, 2 and 4 Ray load actors. Found by doubling then bisecting the rate
   (3 s trials), in alternating order each round; medians over rounds.
2. A sweep on 2 nodes against 1: a local Ray cluster on loopback with one or two measuring nodes runs the
   same small experiment (its placements side by side on 2 nodes), in alternating order each round; the
   median ratio of wall times.
3. A model of sweep time for N models on M machines, from the placement times measured in 2: a profile is
   two stages (N placements alone, then N(N−1)/2 pairs) and a stage takes ⌈placements / M⌉ rounds.

On this 2-core host every node and every actor shares the same two cores with the server: a second node
or actor adds no compute, only concurrency, so part 1 measures the generators' own limits and part 2 how
much of a sweep is waiting (server starts, warm-ups, sleeping models) rather than computing.

    .venv/bin/python benchmarks/ray_scaling.py [--rounds 3] [--skip-load] [--skip-sweep]
"""

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only, before Ray is imported

from perseus.config import TenantConfig
from perseus.core.progress import NullReporter
from perseus.core.records import RequestRecord, TrialRecords
from perseus.experiments.registry import parse_experiment
from perseus.loadgen import LoadSpec, TenantRate, TrialRules, run_load
from perseus.loadgen.rules import late_sends
from perseus.orchestrate.cluster import NODE_RESOURCE, ray_cluster
from perseus.orchestrate.runner import run_experiment
from perseus.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from _bench import server

MODEL = "synthetic-cpu:dim=8:layers=1"  # next to nothing a request: the generators are what is measured
RULES = TrialRules.fixed(3.0, 0.5)
LATE_MS = 5.0  # a send this late is late (the default for a 100 ms SLA)
SENDERS = ["in-process", "1 actor", "2 actors", "4 actors"]


def _late(trial: TrialRecords, records: list[RequestRecord]) -> tuple[float, int]:
    """The share and the number of a sender's sends in the window more than LATE_MS late."""
    sent = trial.measured(records)
    late = late_sends(sent, replace(RULES, late_threshold_ms=LATE_MS))
    return (late / len(sent) if sent else 1.0), late


def _kept_up(url: str, tenant: str, rate: float, sender: str) -> tuple[bool, str]:
    """One 3 s trial: did every sender keep ≤ 1% of its sends within LATE_MS of their schedule?"""
    actors = 0 if sender == "in-process" else int(sender.split()[0])
    spec = LoadSpec(
        url=url,
        tenants=(tenant,),
        mode="open",
        rates=(TenantRate(tenant, rate, "poisson"),),
        workers=max(1, actors),
        on_ray=actors > 0,
        seed=int(rate),
    )
    trial = run_load(spec, RULES)
    lates = [_late(trial, trial.records)] + [_late(trial, s.records) for s in trial.senders]
    # As a trial judges it (TrialRules): behind = over 1% late and at least 5 late sends (one delayed
    # wake-up of an actor sending 80 requests is 1.2%, not a sender falling behind).
    behind = [
        share for share, count in lates if share > RULES.max_late_fraction and count >= RULES.min_late_sends
    ]
    errors = sum(1 for r in trial.records if not r.ok)
    why = f"late {max(share for share, _ in lates):.1%} (worst sender), {errors} errors"
    return not behind and errors == 0, why


def highest_rate(url: str, tenant: str, sender: str) -> tuple[float, str]:
    """Double from 100 req/s until a trial fails (halve when the first does), then bisect to 10%: the
    highest rate that kept up, and how the next one failed."""
    lo, hi, why = 0.0, 100.0, ""
    while True:
        ok, reason = _kept_up(url, tenant, hi, sender)
        if ok:
            lo, hi = hi, hi * 2
            continue
        why = reason
        if lo or hi < 10:
            break
        hi /= 2
    while lo and hi - lo > 0.1 * lo:
        mid = (lo + hi) / 2
        ok, reason = _kept_up(url, tenant, mid, sender)
        lo, hi, why = (mid, hi, why) if ok else (lo, mid, reason)
    return lo, why


def load_part(rounds: int) -> None:
    print(
        f"1. highest open-loop rate every sender kept up with (≤1% of its sends, or < 5, > {LATE_MS:g} ms late)"
    )
    found: dict[str, list[float]] = {s: [] for s in SENDERS}
    limits: dict[str, str] = {}
    with ray_cluster("auto", lambda text: None), server(TenantConfig(model=MODEL, instances=2)) as running:
        tenant = running.tenants[0].name
        for r in range(rounds):
            order = SENDERS if r % 2 == 0 else SENDERS[::-1]
            for sender in order:
                rate, why = highest_rate(running.endpoints.grpc_url, tenant, sender)
                found[sender].append(rate)
                limits[sender] = why
                print(
                    f"   round {r + 1} {sender:<11} {rate:8.0f} req/s   next step failed: {why[:90]}",
                    flush=True,
                )
    base = statistics.median(found["in-process"])
    for sender in SENDERS:
        median = statistics.median(found[sender])
        print(f"   {sender:<11} median {median:8.0f} req/s   × in-process {median / base:5.2f}")


NODE = {"num_cpus": 1, "resources": {NODE_RESOURCE: 1}, "node_ip_address": "127.0.0.1"}
SWEEP: dict[str, Any] = {
    "kind": "peak",
    "models": [{"model": f"synthetic-sleep:service_ms={ms}", "instances": 4} for ms in (10, 12, 14, 16)],
    "sla": "p95=1s",
    "search": {"start_rps": 40, "tolerance": 0.3, "max_probes": 3},
    "trial": {"warmup_s": 0.3, "min_duration_s": 1.5, "max_duration_s": 2, "tolerance": 0.5},
}


def _sweep(nodes: int, label: str, store: Store) -> float:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    for _ in range(nodes - 1):
        cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    try:
        experiment = parse_experiment({**SWEEP, "name": label}, "benchmark")
        start = time.monotonic()
        run_experiment(experiment, store, NullReporter(), fresh=True, ray=cluster.address)
        return time.monotonic() - start
    finally:
        cluster.shutdown()


def sweep_part(rounds: int) -> float:
    print(f"2. a sweep of {len(SWEEP['models'])} placements (λ of 4 sleeping models) on 1 and on 2 nodes")
    times: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "r.db") as store:
        for r in range(rounds):
            for nodes in (1, 2) if r % 2 == 0 else (2, 1):
                took = _sweep(nodes, f"sweep {nodes} nodes round {r + 1}", store)
                times[nodes].append(took)
                print(f"   round {r + 1} {nodes} node{'s' if nodes > 1 else ' '} {took:6.1f} s", flush=True)
    ratios = [one / two for one, two in zip(times[1], times[2], strict=True)]
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(
        f"   median: 1 node {one:.1f} s, 2 nodes {two:.1f} s; speed-up (median of paired ratios) "
        f"{statistics.median(ratios):.2f}×"
    )
    return one / len(SWEEP["models"])  # one placement, as measured here


def model_part(placement_s: float) -> None:
    print("3. model: profile of N models on M machines = (⌈N/M⌉ + ⌈N(N−1)/2 / M⌉) × t, one placement t")
    for label, t in (("measured here", placement_s), ("a zoo CNN placement, ~2 min", 120.0)):
        print(f"   t = {t:.0f} s ({label})")
        print("   " + "N \\ M".ljust(8) + "".join(f"{m:>10}" for m in (1, 2, 4, 8, 16)))
        for n in (6, 10, 20):
            row = [(math.ceil(n / m) + math.ceil(n * (n - 1) / 2 / m)) * t / 60 for m in (1, 2, 4, 8, 16)]
            print("   " + f"{n}".ljust(8) + "".join(f"{v:9.0f}m" for v in row))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args()
    if not args.skip_load:
        load_part(args.rounds)
    placement_s = 12.0
    if not args.skip_sweep:
        placement_s = sweep_part(args.rounds)
    model_part(placement_s)


if __name__ == "__main__":
    main()
