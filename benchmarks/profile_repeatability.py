"""How well a pair's shared capacity repeats, measured as the planner's profiles measure it, under two
measurement settings side by side: the shipped profiles' (search tolerance 5%, trials of 5-15 s) and a
precise one (tolerance 2%, trials of 15-30 s, more probes).

Each round runs one `profile` pass of the pair under each setting, in alternating order: λ alone of each
model, then the pair at equal shares of work, its shared capacity e = Σ r/λ against that pass's own λ.
Per setting it prints every pass's λ and e, then the spread of e as the planner's "measured again" check
takes it (each pass against the mean of the others; median), and the time a pass took. A capacity model
cannot be checked more tightly than its measurement repeats: this is the floor under the leave-one-pair-
out error the planner reports.

    .venv/bin/python benchmarks/profile_repeatability.py [--rounds 3] [--models efficientnet_b0,googlenet]

Needs the zoo models exported (`perseus models export ...`) and a quiet host: about 20 min a round. Every
pass is kept as a run (`repeatability <setting> <time> round N`) in the store named by --db (by default
the user's results store), so `perseus report RUN` shows what each search probed.
"""

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from perseus.core.paths import default_db_path
from perseus.core.progress import NullReporter
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.orchestrate.runner import run_experiment
from perseus.store import Store

SETTINGS: dict[str, dict[str, Any]] = {
    "shipped": {  # experiments/profile-6cnn.yaml's
        "search": {"tolerance": 0.05, "max_probes": 10},
        "trial": {},
    },
    "precise": {
        "search": {"tolerance": 0.02, "max_probes": 14},
        "trial": {"min_duration_s": 15, "max_duration_s": 30},
    },
}


class Progress(NullReporter):
    def trial(self, label: str, index: int, total: int) -> None:
        print(f"    [{index + 1}/{total}] {label}", flush=True)


def one_pass(
    models: list[str], sla: str, setting: str, label: str, store: Store
) -> tuple[dict[str, float], float, float]:
    """λ alone of each model and the pair's shared capacity, from one profile pass stored as its own run;
    and the pass's minutes."""
    exp = parse_experiment(
        {
            "name": f"repeatability {setting} {label}",
            "kind": "profile",
            "models": models,
            "sla": sla,
            "profile": {"machine": "gcp-n2-standard-2", "mixes": [0.5]},
            **SETTINGS[setting],
        },
        "bench",
    )
    started = time.monotonic()
    run_id = run_experiment(exp, store, Progress(), fresh=True)
    profile = experiment_results(store, run_id).findings.profile
    minutes = (time.monotonic() - started) / 60
    lam = {m: p.shared_rps.value for m, p in profile.models.items()}
    (point,) = [c for c in profile.colocations if len(c.models) == 2]
    return lam, point.efficiency.value, minutes


def measured_again(values: list[float]) -> float:
    """The median, over passes, of |e − mean of the other passes' e| / that mean (capacity.repeat_checks)."""
    errors = []
    for i, value in enumerate(values):
        rest = statistics.fmean(values[:i] + values[i + 1 :])
        errors.append(abs(value - rest) / rest)
    return statistics.median(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds (each: one pass per setting)")
    parser.add_argument("--models", default="efficientnet_b0,googlenet", help="the pair, two zoo models")
    parser.add_argument("--sla", default="p95=100ms")
    parser.add_argument(
        "--db", type=Path, default=None, help="store the passes here (default: results store)"
    )
    args = parser.parse_args()
    models = args.models.split(",")
    if len(models) != 2 or args.rounds < 2:
        raise SystemExit("--models names two models; --rounds is at least 2")
    found: dict[str, list[tuple[dict[str, float], float, float]]] = {s: [] for s in SETTINGS}
    stamp = time.strftime("%Y-%m-%d %H:%M")
    with Store(args.db or default_db_path()) as store:
        for index in range(args.rounds):
            order = list(SETTINGS) if index % 2 == 0 else list(reversed(SETTINGS))
            for setting in order:
                print(f"round {index + 1}/{args.rounds}: {setting}", flush=True)
                label = f"{stamp} round {index + 1}"
                lam, e, minutes = one_pass(models, args.sla, setting, label, store)
                found[setting].append((lam, e, minutes))
                shown = ", ".join(f"λ {m} {v:.1f}" for m, v in lam.items())
                print(f"  {setting}: {shown}; shared capacity e {e:.3f}; {minutes:.1f} min", flush=True)
    print(f"\n{models[0]} + {models[1]}, {args.sla}, {args.rounds} paired rounds")
    spread = {}
    for setting, passes in found.items():
        es = [e for _, e, _ in passes]
        spread[setting] = measured_again(es)
        lams = {m: [lam[m] for lam, _, _ in passes] for m in models}
        lam_spread = {m: measured_again(v) for m, v in lams.items()}
        print(
            f"  {setting:8s} e {' '.join(f'{e:.3f}' for e in es)}: measured again {spread[setting]:.1%}; "
            + ", ".join(f"λ {m} measured again {v:.1%}" for m, v in lam_spread.items())
            + f"; {statistics.median(t for _, _, t in passes):.1f} min a pass"
        )
    if spread["shipped"] > 0:
        print(f"  precise / shipped, measured-again error: {spread['precise'] / spread['shipped']:.2f}")


if __name__ == "__main__":
    main()
