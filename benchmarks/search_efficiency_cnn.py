"""Search efficiency on a real zoo CNN: how close each way of finding λ comes to a reference λ, and what
it costs in measured seconds — the real-server half of benchmarks/search_efficiency.py (its simulation).

The reference is the median of long, precise searches (2% tolerance, trials of 20-40 s, bisection read
as it is: `--refs` of them, one at the start and one at the end of the benchmark, so a drift of the
host's speed over the benchmark shows as their spread, which is printed). Between them, paired rounds in
alternating order of the methods compared, each search a `peak` run on a fresh embedded Triton:
  - `bisect`: the shipped bisection before fitted searches (5% tolerance, at most 10 probes);
  - `fit N=5`: at most 5 probes of the same bisection, λ read from the latency curve fitted to all of
    them (`search: {estimator: fit}`, as experiments/profile-6cnn.yaml searches).
Both stop a probe early once its SLA is certainly missed (as every search does). Per method: each
search's λ and its error against the reference, the median |error|, and the median seconds its probes
measured (warm-up and measured window, as the trials store them) and wall minutes.

    .venv/bin/python benchmarks/search_efficiency_cnn.py [--model googlenet] [--rounds 3] [--refs 2]

Needs the model exported (`perseus models export googlenet`) and a quiet host: about 25 minutes with the
defaults. Every search is kept as a run (`search-efficiency ...`) in the store --db names (default: a
temporary one).
"""

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perseus.core.progress import NullReporter
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.orchestrate.runner import run_experiment
from perseus.store import Store

REFERENCE: dict[str, Any] = {
    "search": {"tolerance": 0.02, "max_probes": 12},
    "trial": {"warmup_s": 3, "min_duration_s": 20, "max_duration_s": 40},
}
METHODS: dict[str, dict[str, Any]] = {
    "bisect": {"search": {"tolerance": 0.05, "max_probes": 10}, "trial": {}},
    "fit N=5": {"search": {"tolerance": 0.05, "max_probes": 5, "estimator": "fit"}, "trial": {}},
}


@dataclass(frozen=True)
class Search:
    lam_rps: float
    measured_s: float  # its probes' trials, start to the end of the measured window, summed
    wall_min: float
    probes: int  # trials of its probes (a probe in doubt measured again counts twice)


class Progress(NullReporter):
    def status(self, text: str) -> None:
        print(f"      {text}", flush=True)


def one_search(model: str, sla: str, how: dict[str, Any], label: str, store: Store) -> Search:
    exp = parse_experiment(
        {
            "name": f"search-efficiency {label}",
            "kind": "peak",
            "models": [model],
            "sla": sla,
            "search": how["search"],
            "trial": how["trial"],
        },
        "bench",
    )
    started = time.monotonic()
    run_id = run_experiment(exp, store, Progress(), fresh=True)
    wall = (time.monotonic() - started) / 60
    findings = experiment_results(store, run_id).findings
    (peak,) = findings.peaks.values()  # type: ignore[attr-defined]
    probes = [t for t in store.trials(run_id) if t.key is not None and t.key.purpose != "estimate"]
    measured = 0.0
    for trial in probes:
        records = store.trial_records(trial.id)
        measured += (records.window_end_ns - records.start_ns) / 1e9
    return Search(peak.total_rps, measured, wall, len(probes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="googlenet", help="the zoo CNN searched")
    parser.add_argument("--sla", default="p95=100ms")
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds (each: one search per method)")
    parser.add_argument("--refs", type=int, default=2, help="long reference searches (first and last)")
    parser.add_argument("--db", type=Path, default=None, help="keep the runs in this store")
    args = parser.parse_args()
    if args.rounds < 1 or args.refs < 1:
        raise SystemExit("--rounds and --refs are at least 1")
    stamp = time.strftime("%Y-%m-%d %H:%M")
    refs: list[Search] = []
    found: dict[str, list[Search]] = {m: [] for m in METHODS}
    with tempfile.TemporaryDirectory() as folder, Store(args.db or Path(folder) / "results.db") as store:

        def reference(index: int) -> None:
            print(f"reference {index}/{args.refs}", flush=True)
            refs.append(one_search(args.model, args.sla, REFERENCE, f"{stamp} reference {index}", store))
            print(f"  reference: λ {refs[-1].lam_rps:.2f} req/s, {refs[-1].wall_min:.1f} min", flush=True)

        early = (args.refs + 1) // 2  # the first half before the rounds, the rest after
        for index in range(1, early + 1):
            reference(index)
        for round_index in range(args.rounds):
            order = list(METHODS) if round_index % 2 == 0 else list(reversed(METHODS))
            for method in order:
                print(f"round {round_index + 1}/{args.rounds}: {method}", flush=True)
                label = f"{stamp} {method} round {round_index + 1}"
                one = one_search(args.model, args.sla, METHODS[method], label, store)
                found[method].append(one)
                print(
                    f"  {method}: λ {one.lam_rps:.2f} req/s, {one.probes} trials, {one.measured_s:.0f} s "
                    f"measured, {one.wall_min:.1f} min",
                    flush=True,
                )
        for index in range(early + 1, args.refs + 1):
            reference(index)
    truth = statistics.median(r.lam_rps for r in refs)
    spread = (max(r.lam_rps for r in refs) - min(r.lam_rps for r in refs)) / truth
    print(
        f"\n{args.model}, {args.sla}: reference λ {truth:.2f} req/s (median of {len(refs)}: "
        f"{', '.join(f'{r.lam_rps:.2f}' for r in refs)}; spread {spread:.1%} of it)"
    )
    print(f"  {'method':<8} {'λ each':<28} {'|err|50':>7} {'measured s':>10} {'wall min':>8} {'trials':>6}")
    for method, searches in found.items():
        errors = [abs(s.lam_rps / truth - 1) for s in searches]
        print(
            f"  {method:<8} {' '.join(f'{s.lam_rps:.2f}' for s in searches):<28} "
            f"{statistics.median(errors):7.1%} {statistics.median(s.measured_s for s in searches):10.0f} "
            f"{statistics.median(s.wall_min for s in searches):8.1f} "
            f"{statistics.median(s.probes for s in searches):6.0f}"
        )
    base, new = found["bisect"], found["fit N=5"]
    ratio = statistics.median(n.measured_s / b.measured_s for b, n in zip(base, new, strict=True))
    print(f"  fit N=5 / bisect, measured seconds (median of the paired rounds): {ratio:.2f}")


if __name__ == "__main__":
    main()
