"""What stopping a probe once its SLA is certainly missed saves: one λ search with early stop against one
without, on a synthetic model of known capacity, in paired rounds of alternating order (each search on a
fresh embedded Triton).

Per search it prints λ, the seconds its probes measured (each trial from its start to the end of its
measured window: warm-up and measurement, as the trials store them), the whole search's wall seconds
(server start, the closed-loop estimate, the drain of queued requests after each probe) and how many of
its probes stopped early. Then per setting the medians, and the median of the paired ratios early ÷ full
of measured and wall seconds. λ must agree within the search's noise: the stop changes no verdict (the
rule's proof is loadgen/early_stop.py's docstring), only the schedule draws differ (a trial's seed
derives from its run).

    .venv/bin/python benchmarks/early_stop.py [--rounds 5] [--model synthetic-sleep:service_ms=10]
                                              [--sla p95=100ms] [--max-duration 12]

A round takes about two searches of 1-3 minutes each with the default trials (warm-up 2 s, 5-12 s).
"""

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from perseus.core.progress import NullReporter
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.orchestrate import probe
from perseus.orchestrate.runner import run_experiment
from perseus.store import Store

SETTINGS = ("full", "early")


@dataclass(frozen=True)
class Search:
    lam_rps: float
    measured_s: float  # its probes' trials, start to the end of the measured window, summed
    wall_s: float
    probes: int
    stopped: int  # probes that stopped early


class Progress(NullReporter):
    def status(self, text: str) -> None:
        print(f"      {text}", flush=True)


def one_search(args: argparse.Namespace, setting: str, label: str, store: Store) -> Search:
    exp = parse_experiment(
        {
            "name": f"early-stop {setting} {label}",
            "kind": "peak",
            "models": [args.model],
            "sla": args.sla,
            "search": {"tolerance": args.tolerance, "max_probes": args.max_probes},
            "trial": {
                "warmup_s": args.warmup,
                "min_duration_s": args.min_duration,
                "max_duration_s": args.max_duration,
            },
        },
        "bench",
    )
    probe.STOP_EARLY = setting == "early"
    started = time.monotonic()
    run_id = run_experiment(exp, store, Progress(), fresh=True)
    wall_s = time.monotonic() - started
    (peak,) = experiment_results(store, run_id).findings.peaks.values()
    probes = [t for t in store.trials(run_id) if t.key is not None and t.key.purpose != "estimate"]
    measured = 0.0
    for trial in probes:
        records = store.trial_records(trial.id)
        measured += (records.window_end_ns - records.start_ns) / 1e9
    stopped = sum(1 for t in probes if "stopped_early" in t.summary.loadgen)
    return Search(peak.total_rps, measured, wall_s, len(probes), stopped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds (each: one search per setting)")
    parser.add_argument("--model", default="synthetic-sleep:service_ms=10", help="the model searched")
    parser.add_argument("--sla", default="p95=100ms")
    parser.add_argument("--tolerance", type=float, default=0.05, help="the search's bisection tolerance")
    parser.add_argument("--max-probes", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=2.0, help="each trial's warm-up, s")
    parser.add_argument("--min-duration", type=float, default=5.0, help="each trial's least measured s")
    parser.add_argument("--max-duration", type=float, default=12.0, help="each trial's most measured s")
    args = parser.parse_args()
    found: dict[str, list[Search]] = {s: [] for s in SETTINGS}
    with (
        tempfile.TemporaryDirectory(prefix="perseus-early-stop-") as folder,
        Store(Path(folder) / "results.db") as store,
    ):
        for round_ in range(args.rounds):
            order = SETTINGS if round_ % 2 == 0 else SETTINGS[::-1]  # alternate: drift hits both alike
            for setting in order:
                print(f"round {round_ + 1}/{args.rounds}: {setting}", flush=True)
                one = one_search(args, setting, f"round {round_ + 1}", store)
                found[setting].append(one)
                print(
                    f"  {setting:<5} λ {one.lam_rps:8.2f} req/s   measured {one.measured_s:6.1f} s   "
                    f"wall {one.wall_s:6.1f} s   probes {one.probes} ({one.stopped} stopped early)",
                    flush=True,
                )
    probe.STOP_EARLY = True
    print()
    for setting in SETTINGS:
        runs = found[setting]
        lams = [s.lam_rps for s in runs]
        print(
            f"{setting:<5} λ median {statistics.median(lams):8.2f} req/s (range {min(lams):.2f}-{max(lams):.2f})   "
            f"measured median {statistics.median(s.measured_s for s in runs):6.1f} s   "
            f"wall median {statistics.median(s.wall_s for s in runs):6.1f} s   "
            f"stopped early {sum(s.stopped for s in runs)} of {sum(s.probes for s in runs)} probes"
        )
    pairs = list(zip(found["early"], found["full"], strict=True))
    lam = statistics.median(e.lam_rps / f.lam_rps for e, f in pairs)
    measured = statistics.median(e.measured_s / f.measured_s for e, f in pairs)
    wall = statistics.median(e.wall_s / f.wall_s for e, f in pairs)
    print(
        f"early ÷ full, median of {len(pairs)} paired rounds: λ {lam:.3f}   measured seconds {measured:.3f}   "
        f"wall seconds {wall:.3f}"
    )


if __name__ == "__main__":
    main()
