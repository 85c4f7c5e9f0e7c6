"""Does what is in perf_analyzer's random input data slow onnxruntime? One model run on variants of its
input values, each timed against standard normal inputs in the same round.

Variants: standard normal, zeros, perf_analyzer 2.51's random bytes (perseus `--input-data random`, the
same bytes), those bytes with one thing changed at a time (NaN/Inf replaced by 0, subnormals flushed to
0, magnitudes below 1e-30 flushed, magnitudes clipped to ±1), and inputs that are all subnormal. In
process, also on a session that flushes subnormals itself (onnxruntime's `session.set_denormal_as_zero`,
the CPU's FTZ/DAZ flags for its threads): the control for subnormal arithmetic.

--where inprocess (default): onnxruntime called directly, --runs inferences per variant per round.
--where triton: the embedded Triton on CPU 0 (one instance), perseus's closed loop on CPU 1 sending each
variant (`file:` inputs for the edited ones) for --seconds; the figure is Triton's own
compute-infer time per request (/metrics), which leaves out the client and the network.

Each round runs every variant in a rotated order; a variant's figure is the median over rounds of its
round's time ÷ normal's (paired: a host whose speed drifts hits both alike), with the quartiles.

    .venv/bin/python benchmarks/input_values.py [--model squeezenet1_1] [--rounds 30] [--threads 1]
    .venv/bin/python benchmarks/input_values.py --where triton [--rounds 10] [--concurrency 4]
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from _bench import pin_clients, server
from perseus.config import TenantConfig
from perseus.loadgen import LoadSpec, TrialRules, run_load
from perseus.models import resolve_model
from perseus.models.inputs import InputTensor, make_inputs, tensors_of
from perseus.telemetry.breakdown import breakdown
from perseus.telemetry.triton_metrics import scrape

Array = np.ndarray[Any, Any]
TINY = 1e-30  # far above the subnormal range (< 1.18e-38), yet its product with a weight can fall into it
SUBNORMAL = np.float32(1e-39)


def variants(tensor: InputTensor) -> dict[str, Array]:
    """The input of each variant (batch 1), by name; the first three are perseus's own settings."""
    normal = make_inputs("normal", [tensor], 1, np.random.default_rng(0))[tensor.name]
    random = make_inputs("random", [tensor], 1)[tensor.name]
    finite = np.where(np.isfinite(random), random, np.float32(0))
    subnormal = (random != 0) & (np.abs(random) < np.finfo(np.float32).tiny)
    tiny = np.abs(random) < TINY
    return {
        "normal": normal,
        "zeros": np.zeros_like(normal),
        "random": random,
        "random, NaN/Inf → 0": finite,
        "random, subnormals → 0": np.where(subnormal, np.float32(0), random),
        f"random, |x| < {TINY:g} → 0": np.where(tiny, np.float32(0), random),
        "random, finite, clipped to ±1": np.clip(finite, -1, 1),
        "normal × 1e-39 (all subnormal)": (normal * SUBNORMAL).astype(np.float32),
    }


def paired(names: list[str], rounds: int, measure: Callable[[str], float]) -> dict[str, list[float]]:
    """Each round measures every name in a rotated order; returns each one's figures, round by round."""
    found: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:  # rotated: no variant always follows the same one
            found[name].append(measure(name))
    return found


def show(title: str, found: dict[str, list[float]], unit: str) -> None:
    print(title)
    print(f"{'input values':<34} {unit:>12} {'÷ normal':>9}  (median of paired rounds; q1-q3)")
    for name, values in found.items():
        ratios = [v / n for v, n in zip(values, found["normal"], strict=True)]
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        print(
            f"{name:<34} {statistics.median(values):>12,.0f} {statistics.median(ratios):>9.3f}  ({q1:.3f}-{q3:.3f})"
        )


def describe(x: Array) -> str:
    x = x.ravel()
    tiny = np.finfo(np.float32).tiny
    return (
        f"{np.isnan(x).mean():.2%} NaN, {np.isinf(x).mean():.2%} Inf, "
        f"{((x != 0) & (np.abs(x) < tiny)).mean():.2%} subnormal, {(np.abs(x) < TINY).mean():.2%} below "
        f"{TINY:g}, {(np.abs(x) > 1e3).mean():.1%} above 1e3"
    )


def in_process(args: argparse.Namespace) -> None:
    import onnxruntime as ort

    info = resolve_model(args.model)
    (tensor,) = tensors_of(info)

    def session(ftz: bool) -> Any:
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        # As the served model runs (serving/backend/model.py): no spinning. A session whose threads spin
        # after its run would take the cores from the other session's next run.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if ftz:
            options.add_session_config_entry("session.set_denormal_as_zero", "1")
        return ort.InferenceSession(info.path, options, providers=["CPUExecutionProvider"])

    plain, flushing = session(False), session(True)
    inputs = variants(tensor)
    cases: dict[str, Callable[[], object]] = {
        name: (lambda x=x: plain.run(None, {tensor.name: x})) for name, x in inputs.items()
    }
    for name in ("normal", "random", "normal × 1e-39 (all subnormal)"):
        cases[f"{name}, FTZ/DAZ"] = lambda x=inputs[name]: flushing.run(None, {tensor.name: x})
    for run in cases.values():
        run()  # first runs allocate

    def measure(name: str) -> float:
        took = []
        for _ in range(args.runs):
            start = time.perf_counter_ns()
            cases[name]()
            took.append(time.perf_counter_ns() - start)
        return statistics.median(took) / 1e3

    found = paired(list(cases), args.rounds, measure)
    show(
        f"{args.model} in process, onnxruntime {ort.__version__}, {args.threads} intra-op thread(s), "
        f"{args.rounds} rounds × {args.runs} runs; the random input: {describe(inputs['random'])}",
        found,
        "median µs",
    )


def through_triton(args: argparse.Namespace) -> None:
    info = resolve_model(args.model)
    (tensor,) = tensors_of(info)
    with tempfile.TemporaryDirectory(prefix="perseus-inputs-") as folder:
        settings: dict[str, str] = {}
        for index, (name, array) in enumerate(variants(tensor).items()):
            if name in ("normal", "zeros", "random"):
                settings[name] = name
            else:  # one batch row: sent in every request
                path = Path(folder) / f"variant-{index}.npy"
                np.save(path, array[0])
                settings[name] = f"file:{path}"
        with server(TenantConfig(model=args.model, instances=1), cpu=0) as running:
            tenant, metrics = running.tenants[0].name, running.endpoints.metrics_url
            pin_clients(1)

            def measure(name: str) -> float:
                spec = LoadSpec(
                    url=running.endpoints.grpc_url,
                    tenants=(tenant,),
                    concurrency=args.concurrency,
                    inputs=settings[name],
                )
                before = scrape(metrics)
                run_load(spec, TrialRules.fixed(args.seconds, 1.0))
                return breakdown(before, scrape(metrics))[tenant].compute_infer_us or float("nan")

            found = paired(list(settings), args.rounds, measure)
    show(
        f"{args.model} through the embedded Triton (1 instance on CPU 0, perseus gRPC c={args.concurrency} "
        f"on CPU 1), {args.rounds} rounds × {args.seconds:g} s: Triton's compute-infer µs per request",
        found,
        "infer µs",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="squeezenet1_1")
    parser.add_argument("--where", choices=("inprocess", "triton"), default="inprocess")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7, help="in process: inferences per variant per round")
    parser.add_argument("--threads", type=int, default=1, help="in process: onnxruntime intra-op threads")
    parser.add_argument("--seconds", type=float, default=3.0, help="triton: measured seconds per variant")
    parser.add_argument("--concurrency", type=int, default=4, help="triton: closed-loop users")
    args = parser.parse_args()
    if args.where == "inprocess":
        in_process(args)
    else:
        through_triton(args)


if __name__ == "__main__":
    main()
