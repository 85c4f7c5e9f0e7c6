"""Interval calibration: are λ's intervals as wide as the run-to-run spread they claim to cover?

Runs one `peak` experiment with `repeats: N` (N independent λ searches of one model, each on a fresh
embedded Triton) per target, then asks, for every interval perseus would print, how often it contains the
median λ of the searches it was not computed from:
  - one search's bracket (what a run without repeats prints), against the median of the other N − 1;
  - the 90% t-interval of K searches (`repeats: K`), over every K of the N, against the median of the rest.
Goal: the nominal 90% interval covers ≥ 85% of the time. The K-intervals overlap (every K of N), so their
coverage is a smoothed estimate, not N/K independent trials.

    .venv/bin/python benchmarks/interval_calibration.py [--searches 8] [--k 3,5] [--targets sleep,cnn]
"""

import argparse
import itertools
import statistics
import tempfile
from pathlib import Path
from typing import Any

from perseus.core.interval import Estimate, of_searches
from perseus.core.progress import NullReporter
from perseus.experiments.analysis import peak
from perseus.experiments.placements import PEAK, dedicated, repeats
from perseus.experiments.registry import parse_experiment
from perseus.orchestrate.runner import run_experiment
from perseus.store import Store

TARGETS: dict[str, dict[str, Any]] = {
    # One instance of a 10 ms sleep: a server of known capacity (100 req/s; p95 ≤ 60 ms well below it).
    "sleep": {"models": ["synthetic-sleep:service_ms=10"], "sla": "p95=60ms"},
    "cnn": {"models": ["squeezenet1_1"], "sla": "p95=100ms"},
}
SEARCH = {  # the shipped experiments' search, with shorter trials (a search takes about a minute)
    "search": {"tolerance": 0.05, "max_probes": 7},
    "trial": {"warmup_s": 0.5, "min_duration_s": 2, "max_duration_s": 4},
}


class Progress(NullReporter):
    def trial(self, label: str, index: int, total: int) -> None:
        print(f"  [{index + 1}/{total}] {label}", flush=True)


def searches(target: str, n: int, store: Store) -> list[tuple[float, float]]:
    """N independent searches of the target: each one's bracket (λ, lowest infeasible rate above)."""
    exp = parse_experiment(
        {"name": f"calibration-{target}", "kind": "peak", "repeats": n, **SEARCH, **TARGETS[target]}, "bench"
    )
    run_id = run_experiment(exp, store, Progress(), fresh=True)
    trials = store.trials(run_id)
    (key,) = exp.model_keys()
    found = []
    for repeat in repeats(exp):
        where = dedicated(exp, key, None, repeat)
        (name,) = where.names
        one = peak(trials, where, PEAK, name, exp.search.method, key, tenant=name)
        if one is not None and one.interval is not None:
            found.append((one.interval.low, one.interval.high))
    return found


def coverage(intervals: list[tuple[Estimate, float]]) -> float:
    return sum(e.low <= truth <= e.high for e, truth in intervals) / len(intervals)


def report(target: str, brackets: list[tuple[float, float]], ks: list[int]) -> None:
    lams = [lo for lo, _ in brackets]
    n = len(lams)
    spread = statistics.stdev(lams) / statistics.fmean(lams)
    print(
        f"{target}: {n} searches, λ median {statistics.median(lams):.1f} req/s, run-to-run CV {spread:.1%}, "
        f"range {min(lams):.1f}–{max(lams):.1f}"
    )
    print("  λ per search: " + ", ".join(f"{lo:.1f} [{lo:.1f}, {hi:.1f}]" for lo, hi in brackets))
    one = [(of_searches([b]), statistics.median(lams[:i] + lams[i + 1 :])) for i, b in enumerate(brackets)]
    width = statistics.fmean((e.high - e.low) / e.value for e, _ in one)
    print(
        f"  one search's bracket: covers the others' median {coverage(one):.0%} of {n} (mean width {width:.1%})"
    )
    for k in ks:
        groups = list(itertools.combinations(range(n), k))
        kth = [
            (
                of_searches([brackets[i] for i in g]),
                statistics.median(lams[j] for j in range(n) if j not in g),
            )
            for g in groups
        ]
        width = statistics.fmean((e.high - e.low) / e.value for e, _ in kth)
        verdict = "ok" if coverage(kth) >= 0.85 else "UNDER-COVERS"
        print(
            f"  90% t-interval of {k} searches: covers the others' median {coverage(kth):.0%} of {len(groups)} "
            f"groups (mean width {width:.1%}; goal ≥ 85%: {verdict})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=8, help="independent λ searches per target")
    parser.add_argument(
        "--k", default="3,5", help="searches per repeated interval (repeats: K), comma-separated"
    )
    parser.add_argument("--targets", default="sleep,cnn", help=f"comma-separated, of {', '.join(TARGETS)}")
    args = parser.parse_args()
    found = {}
    with (
        tempfile.TemporaryDirectory(prefix="perseus-calibration-") as folder,
        Store(Path(folder) / "results.db") as store,
    ):
        for target in args.targets.split(","):
            print(f"{target}: {args.searches} searches, each on a fresh server", flush=True)
            found[target] = searches(target, args.searches, store)
    for target, brackets in found.items():
        report(target, brackets, [int(k) for k in args.k.split(",")])


if __name__ == "__main__":
    main()
