"""The host's speed now: a short fixed single-thread CPU workload timed in this process, in work units
(ops) per second, so each trial records how fast the host was when it ran (a VM's speed drifts by a
quarter over hours; two trials compare only at one speed).

The workload is a pure-Python integer loop (a linear congruential generator), chosen over a numpy matmul:
it is one thread whatever BLAS would do with the machine's cores, deterministic (the same ops, the same
result), touches no memory beyond a few registers' worth, and needs nothing imported. It measures one
core as the interpreter sees it — clock frequency, a neighbour on the core, steal — not SIMD throughput,
so compare its figures with each other (a ratio), never with an inference rate."""

import time
from collections.abc import Callable

# Loop turns a repetition: 20-40 ms on the 2-core cloud VM perseus is developed on (quiet or shared), far
# above the clock's resolution and a few scheduler ticks long.
OPS = 200_000
REPEATS = 3  # the best of these: one preemption (a 4 ms scheduler tick, a steal burst) does not define it


def reference_work(ops: int = OPS) -> int:
    """`ops` turns of a 31-bit linear congruential generator; the result is returned so nothing is idle."""
    x = 1
    for _ in range(ops):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def reference_speed(
    repeats: int = REPEATS, ops: int = OPS, clock: Callable[[], int] = time.perf_counter_ns
) -> float:
    """Ops per second of the reference workload: the fastest of `repeats` runs (0.06-0.12 s in all here)."""
    best_ns = None
    for _ in range(max(1, repeats)):
        start = clock()
        reference_work(ops)
        took = clock() - start
        best_ns = took if best_ns is None else min(best_ns, took)
    assert best_ns is not None
    return ops / (max(best_ns, 1) / 1e9)
