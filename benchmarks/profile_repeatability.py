"""How well a pair's shared capacity repeats, measured as the planner's profiles measure it, by two
methods side by side: today's (`order: sequential`: λ alone of each model, then the pair against them,
bisection to 5%, opening wide), the same order with fitted searches of at most 5 probes (`fit`, as
experiments/profile-6cnn.yaml measures, opening near; `fit-wide` opening wide), and interleaved blocks (`order: interleaved`: in each of N blocks λ alone of each model
and the pair in a random order, e against that block's own λ alone, the blocks' median; each search
fitted, `search: {estimator: fit}`, with fewer probes, so a pass costs no more minutes than today's).
Both stop a probe early once its SLA is certainly missed (as every search does).

Each round runs one `profile` pass of the pair by each method, in alternating order (paired rounds: a
drift of the host's speed over the hours hits both alike). Per method it prints every pass's λ and e,
then how each repeats as the planner's "measured again" check takes it (each pass against the mean of
the others; median), and the minutes and probes a pass took. A capacity model cannot be checked more
tightly than its measurement repeats: this is the floor under the leave-one-pair-out error the planner
reports.

    .venv/bin/python benchmarks/profile_repeatability.py [--rounds 3] [--models efficientnet_b0,googlenet]
                                                         [--methods today,fit,fit-wide,blocks]
    .venv/bin/python benchmarks/profile_repeatability.py --synthetic --rounds 1   # a few minutes: runs?

Needs the zoo models exported (`perseus models export ...`) and a quiet host: about 20 min a round (three passes).
`--synthetic` measures two small synthetic models with short trials instead (a check that it works, not
a measurement). Every pass is kept as a run (`repeatability <method> <time> round N`) in the store named
by --db (by default the user's results store), so `perseus report RUN` shows what each search probed.
"""

import argparse
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perseus.core.paths import default_db_path
from perseus.core.progress import NullReporter
from perseus.experiments.profile import Findings
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.orchestrate.runner import run_experiment
from perseus.store import Store

BLOCKS = 2  # a pass's blocks: 3 searches each, against today's 3 a pass
# The searches of each method. Today's: experiments/profile-6cnn.yaml's. Blocks: twice the searches, so
# each at most about half the probes: a coarser bisection (a 20% bracket in 4 probes) that the fitted
# curve reads to well within it, and a model's search in block 2 starts at its block-1 λ (no closed-loop
# look first).
METHODS: dict[str, dict[str, Any]] = {
    # The search before issue 24: bisection to 5%, opening wide (×2 / ÷4 from its start).
    "today": {"search": {"tolerance": 0.05, "max_probes": 10, "opening": "wide"}, "profile": {}},
    # experiments/profile-6cnn.yaml's: sequential, each search at most 5 probes read by the fitted curve,
    # opening near (×1.375 / ÷1.375 first); `fit-wide` the same opening wide (as measured until 2026-12-07).
    "fit": {"search": {"tolerance": 0.05, "max_probes": 5, "estimator": "fit"}, "profile": {}},
    "fit-wide": {
        "search": {"tolerance": 0.05, "max_probes": 5, "estimator": "fit", "opening": "wide"},
        "profile": {},
    },
    "blocks": {
        "search": {"tolerance": 0.2, "max_probes": 4, "estimator": "fit"},
        "profile": {"order": "interleaved", "blocks": BLOCKS},
    },
}
ZOO: dict[str, Any] = {"models": "efficientnet_b0,googlenet", "sla": "p95=100ms", "trial": {}}
# Two small synthetic models sharing the CPU, trials of 1.5-3 s and an SLA their λ sits well inside.
SYNTHETIC: dict[str, Any] = {
    "models": "synthetic-cpu:dim=1024:layers=10,synthetic-cpu:dim=1024:layers=6",
    "sla": "p90=50ms",
    "trial": {"warmup_s": 0.5, "min_duration_s": 1.5, "max_duration_s": 3},
}


class Progress(NullReporter):
    def trial(self, label: str, index: int, total: int) -> None:
        print(f"    [{index + 1}/{total}] {label}", flush=True)


@dataclass(frozen=True)
class Pass:
    lam: dict[str, float]  # λ alone by model (blocks: over the pass's blocks)
    e: float  # the pair's shared capacity (blocks: the blocks' median)
    blocks: list[float]  # blocks: each block's e
    minutes: float
    probes: int  # trials stored (probes and their retries, closed-loop looks)


def one_pass(
    models: list[str], sla: str, trial: dict[str, Any], method: str, label: str, store: Store, blocks: int
) -> Pass:
    """λ alone of each model and the pair's shared capacity, from one profile pass stored as its own run;
    and the pass's minutes."""
    settings = METHODS[method]
    section = dict(settings["profile"])
    if "blocks" in section:
        section["blocks"] = blocks
    exp = parse_experiment(
        {
            "name": f"repeatability {method} {label}",
            "kind": "profile",
            "models": models,
            "sla": sla,
            "profile": {"machine": "gcp-n2-standard-2", "mixes": [0.5], **section},
            "search": settings["search"],
            "trial": trial,
        },
        "bench",
    )
    started = time.monotonic()
    run_id = run_experiment(exp, store, Progress(), fresh=True)
    minutes = (time.monotonic() - started) / 60
    found = experiment_results(store, run_id).findings
    assert isinstance(found, Findings)
    profile = found.profile
    lam = {m: p.shared_rps.value for m, p in profile.models.items()}
    # No point: no rate met both SLAs (a host too busy, an SLA too tight): said as NaN, not a crash.
    points = [c.efficiency.value for c in profile.colocations if len(c.models) == 2 and c.rates_rps]
    each = [b.efficiency for b in found.blocks if b.efficiency is not None]
    return Pass(lam, points[0] if points else math.nan, each, minutes, len(store.trials(run_id)))


def measured_again(values: list[float]) -> float:
    """The median, over passes, of |e − mean of the other passes' e| / that mean (capacity.repeat_checks);
    NaN with a single pass."""
    values = [v for v in values if math.isfinite(v)]
    if len(values) < 2:
        return math.nan
    errors = []
    for i, value in enumerate(values):
        rest = statistics.fmean(values[:i] + values[i + 1 :])
        errors.append(abs(value - rest) / rest)
    return statistics.median(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds (each: one pass per method)")
    parser.add_argument("--models", default=None, help="the pair, two models (default: two zoo CNNs)")
    parser.add_argument("--sla", default=None)
    parser.add_argument("--blocks", type=int, default=BLOCKS, help="blocks of a pass (interleaved)")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"the methods compared, of {', '.join(METHODS)}"
    )
    parser.add_argument(
        "--synthetic", action="store_true", help="two small synthetic models, short trials: a quick check"
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="store the passes here (default: results store)"
    )
    args = parser.parse_args()
    base = SYNTHETIC if args.synthetic else ZOO
    models = (args.models or base["models"]).split(",")
    sla = args.sla or base["sla"]
    if len(models) != 2 or args.rounds < 1 or args.blocks < 2:
        raise SystemExit("--models names two models; --rounds is at least 1; --blocks at least 2")
    methods = args.methods.split(",")
    if "today" not in methods or not set(methods) <= set(METHODS):
        raise SystemExit(f"--methods: today and any of {', '.join(METHODS)}")
    found: dict[str, list[Pass]] = {m: [] for m in methods}
    stamp = time.strftime("%Y-%m-%d %H:%M")
    with Store(args.db or default_db_path()) as store:
        for index in range(args.rounds):
            order = methods if index % 2 == 0 else list(reversed(methods))
            for method in order:
                print(f"round {index + 1}/{args.rounds}: {method}", flush=True)
                label = f"{stamp} round {index + 1}"
                one = one_pass(models, sla, base["trial"], method, label, store, args.blocks)
                found[method].append(one)
                shown = ", ".join(f"λ {m} {v:.1f}" for m, v in one.lam.items())
                blocks = f" (blocks {' '.join(f'{e:.3f}' for e in one.blocks)})" if one.blocks else ""
                print(
                    f"  {method}: {shown}; shared capacity e {one.e:.3f}{blocks}; {one.minutes:.1f} min, "
                    f"{one.probes} trials",
                    flush=True,
                )
    print(f"\n{models[0]} + {models[1]}, {sla}, {args.rounds} paired rounds")
    spread = {}
    for method, passes in found.items():
        es = [p.e for p in passes]
        spread[method] = measured_again(es)
        lams = {m: [p.lam[m] for p in passes if m in p.lam] for m in passes[0].lam}
        lam_spread = {m: measured_again(v) for m, v in lams.items()}
        print(
            f"  {method:7s} e {' '.join(f'{e:.3f}' for e in es)}: measured again {spread[method]:.1%}; "
            + ", ".join(f"λ {m} measured again {v:.1%}" for m, v in lam_spread.items())
            + f"; {statistics.median(p.minutes for p in passes):.1f} min, "
            f"{statistics.median(p.probes for p in passes):.0f} trials a pass"
        )
    if spread["today"] > 0:
        for method in (m for m in methods if m != "today"):
            print(f"  {method} / today, measured-again error of e: {spread[method] / spread['today']:.2f}")


if __name__ == "__main__":
    main()
