"""The Poisson schedules are Poisson, not just the right count: per tenant, per sending worker and merged,
the gaps are exponential at the asked rate (Kolmogorov-Smirnov), counts in windows are as dispersed as a
Poisson count's (index of dispersion ≈ 1), and the streams of workers, tenants and trials (seeds derived
for attempts, repeats and runs) are independent, neither the same stream nor a shifted or scaled copy.

Each check has a negative twin: a deliberately wrong generator (evenly spaced, sent in pairs, at the wrong
rate, a seed shared by two workers, one schedule scaled to another rate or shifted in time) that it fails.

The seeds are fixed, so the file is deterministic; every bound is also set so a correct generator passes
it with probability 1 − 1e-8 (ALPHA) for any seed: 28 checks here, so another choice of seeds would
fail the file with probability < 1e-6. The negative twins fail far beyond their bounds (p < 1e-100; a
dispersion index 0.05 or 1.8 against bounds 0.70-1.37; correlation z 10 to 76 against 5.7)."""

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from perseus.loadgen import Arrival, TenantRate, derive_seed, open_loop
from perseus.loadgen.schedule import ArrivalKind

Times = npt.NDArray[np.float64]
ALPHA = 1e-8  # the false-failure probability of each check for a correct generator and a random seed
HORIZON_S = 60.0
RATES = (TenantRate("a", 40.0), TenantRate("b", 60.0))
WORKERS = 2
SEED = 11
PER_WINDOW = 10.0  # expected arrivals in a window of the count statistics (a χ² approximation wants ≥ 5)


def times_of(arrivals: Iterable[Arrival], tenant: str | None = None) -> Times:
    """Send times in seconds up to the horizon, of one tenant or of all."""
    until = itertools.takewhile(lambda a: a.t_ns < HORIZON_S * 1e9, arrivals)
    return np.array([a.t_ns / 1e9 for a in until if tenant is None or a.tenant == tenant])


def worker_stream(worker: int, seed: int = SEED) -> Iterator[Arrival]:
    return open_loop(RATES, seed=seed, worker=worker, workers=WORKERS)


def merged_stream(seed: int = SEED) -> Iterator[Arrival]:
    """What the server sees: every worker's arrivals together."""
    return heapq.merge(*(worker_stream(w, seed) for w in range(WORKERS)), key=lambda a: a.t_ns)


def ks_p(times: Times, rate_rps: float) -> float:
    """p-value of the gaps (the first counted from 0: memoryless) against the exponential of mean
    1/rate. The rate is the asked one, not fitted, so the plain KS distribution applies (exact for these
    sizes in scipy)."""
    gaps = np.diff(times, prepend=0.0)
    return float(stats.kstest(gaps, "expon", args=(0.0, 1.0 / rate_rps)).pvalue)


def counts(times: Times, width_s: float) -> npt.NDArray[np.int64]:
    edges = np.arange(0.0, HORIZON_S + width_s / 2, width_s)
    return np.histogram(times, edges)[0]


def dispersion(times: Times, rate_rps: float) -> tuple[float, float, float]:
    """The index of dispersion (variance / mean) of counts in k windows of PER_WINDOW expected arrivals,
    and the bounds it stays within with probability 1 − ALPHA for a Poisson process. Given the total,
    (k − 1) × index is Pearson's χ² statistic of the counts against uniform, ~ χ²(k − 1)."""
    n = counts(times, PER_WINDOW / rate_rps)
    k = len(n)
    index = float(np.var(n, ddof=1) / np.mean(n))
    low = float(stats.chi2.ppf(ALPHA / 2, k - 1)) / (k - 1)
    high = float(stats.chi2.isf(ALPHA / 2, k - 1)) / (k - 1)
    return index, low, high


def correlation_z(x: npt.NDArray[Any], y: npt.NDArray[Any]) -> float:
    """Pearson's r of paired values, scaled by √(k − 1): ~ N(0, 1) for independent ones."""
    k = min(len(x), len(y))
    r = float(np.corrcoef(x[:k], y[:k])[0, 1])
    return r * float(np.sqrt(k - 1))


Z_BOUND = float(stats.norm.isf(ALPHA / 2))  # 5.73: |z| above it has probability ALPHA if independent


def independence(a: Times, b: Times, rate_rps: float) -> tuple[float, float]:
    """Two streams' correlation z of counts in common windows (sized for the slower, `rate_rps`) and of
    their gap sequences paired by index: a copy of one stream shifted in time, or scaled to another
    rate, has the same gaps in the same order (r = 1) however its windows fall."""
    width = PER_WINDOW / rate_rps
    return correlation_z(counts(a, width), counts(b, width)), correlation_z(np.diff(a), np.diff(b))


# Who draws apart from whom: (what, stream A, stream B, the slower rate).
StreamPair = tuple[Times, Times, float]
PAIRS: dict[str, Callable[[], StreamPair]] = {
    "workers of one tenant": lambda: (
        times_of(worker_stream(0), "a"),
        times_of(worker_stream(1), "a"),
        20.0,
    ),
    "tenants of one worker": lambda: (
        times_of(worker_stream(0), "a"),
        times_of(worker_stream(0), "b"),
        20.0,
    ),
    "tenants, merged over workers": lambda: (
        times_of(merged_stream(), "a"),
        times_of(merged_stream(), "b"),
        40.0,
    ),
    # As probe.trial_seed derives them: a retry, a repeat's placement, a --fresh run; and seeds 0 and 1.
    "attempts of a probe": lambda: (
        times_of(merged_stream(derive_seed(1, "peak|a=50"))),
        times_of(merged_stream(derive_seed(1, "peak|a=50|attempt 1"))),
        100.0,
    ),
    "repeats of a search": lambda: (
        times_of(merged_stream(derive_seed(1, "dedicated[a]|peak|a=50"))),
        times_of(merged_stream(derive_seed(1, 'dedicated[a]{"repeat": 2}|peak|a=50'))),
        100.0,
    ),
    "runs of one experiment": lambda: (
        times_of(merged_stream(derive_seed(1, "peak|a=50"))),
        times_of(merged_stream(derive_seed(2, "peak|a=50"))),
        100.0,
    ),
    "neighbouring seeds": lambda: (times_of(merged_stream(0)), times_of(merged_stream(1)), 100.0),
}

# Streams whose gaps must be exponential at their rate: (arrivals, tenant or None for all, rate).
STREAMS: dict[str, tuple[Callable[[], Iterator[Arrival]], str | None, float]] = {
    "tenant a": (merged_stream, "a", 40.0),
    "tenant b": (merged_stream, "b", 60.0),
    "worker 0": (lambda: worker_stream(0), None, 50.0),
    "worker 1": (lambda: worker_stream(1), None, 50.0),
    "worker 0, tenant a": (lambda: worker_stream(0), "a", 20.0),
    "worker 1, tenant b": (lambda: worker_stream(1), "b", 30.0),
    "merged": (merged_stream, None, 100.0),
}


@pytest.mark.parametrize("name", STREAMS)
def test_gaps_are_exponential_at_the_asked_rate(name: str) -> None:
    make, tenant, rate = STREAMS[name]
    times = times_of(make(), tenant)
    assert ks_p(times, rate) > ALPHA, (name, len(times))


@pytest.mark.parametrize("name", STREAMS)
def test_counts_in_windows_are_as_dispersed_as_poisson(name: str) -> None:
    make, tenant, rate = STREAMS[name]
    index, low, high = dispersion(times_of(make(), tenant), rate)
    assert low < index < high, (name, index, low, high)


@pytest.mark.parametrize("name", PAIRS)
def test_streams_are_independent(name: str) -> None:
    a, b, rate = PAIRS[name]()
    z_counts, z_gaps = independence(a, b, rate)
    assert abs(z_counts) < Z_BOUND and abs(z_gaps) < Z_BOUND, (name, z_counts, z_gaps)


# --- each check fails the defect it is there for ---------------------------------------------------------

RATE = 100.0


def _poisson(rate_rps: float, seed: int = SEED) -> Times:
    return times_of(open_loop([TenantRate("m", rate_rps)], seed=seed))


WRONG: dict[str, Callable[[], Times]] = {
    # A "Poisson" stream that is evenly spaced (sent on a grid): exponential gaps fail, counts too even.
    "evenly spaced": lambda: times_of(open_loop([TenantRate("m", RATE, "constant")])),
    # Sent in pairs at half the rate: the right count and mean gap, but half the gaps are 0 and counts
    # are twice as dispersed.
    "sent in pairs": lambda: np.repeat(_poisson(RATE / 2), 2),
    # Exponential, but at half the asked rate.
    "at half the rate": lambda: _poisson(RATE / 2),
}


@pytest.mark.parametrize("name", WRONG)
def test_ks_fails_a_stream_that_is_not_poisson_at_its_rate(name: str) -> None:
    assert ks_p(WRONG[name](), RATE) < ALPHA


@pytest.mark.parametrize("name", ["evenly spaced", "sent in pairs"])
def test_dispersion_fails_a_stream_too_even_or_too_bursty(name: str) -> None:
    index, low, high = dispersion(WRONG[name](), RATE)
    assert not low < index < high, (index, low, high)
    # Far outside, not at the edge: evenly spaced ≈ 0, in pairs ≈ 2 (the bounds are about 0.7 and 1.4).
    assert index < low / 3 or index > 1.2 * high


COPIES: dict[str, Callable[[], StreamPair]] = {
    # Two workers (or two repeats) drawing with one seed: the same stream twice.
    "a shared seed": lambda: (
        times_of(open_loop(RATES, seed=SEED, worker=0, workers=WORKERS), "a"),
        times_of(open_loop(RATES, seed=SEED, worker=0, workers=WORKERS), "a"),
        20.0,
    ),
    # One seed at two rates (a rate sweep's levels, a search's probes, before): gaps scaled by the rate.
    "one seed, scaled to another rate": lambda: (_poisson(40.0), _poisson(60.0), 40.0),
    # The same draws 1.7 s later: counts in windows decorrelate, but the gaps are the same.
    "a shifted copy": lambda: (_poisson(RATE)[:-200], _poisson(RATE)[:-200] + 1.7, RATE),
}


@pytest.mark.parametrize("name", COPIES)
def test_independence_fails_copies_of_one_stream(name: str) -> None:
    a, b, rate = COPIES[name]()
    z_counts, z_gaps = independence(a, b, rate)
    assert max(abs(z_counts), abs(z_gaps)) > 3 * Z_BOUND, (z_counts, z_gaps)


# --- what a queue sees: a single server of fixed service time (M/D/1) ------------------------------------

MD1_RATE, MD1_SERVICE_S = 50.0, 0.010  # ρ = 0.5
MD1_HORIZON_S = 4000.0  # 200,000 arrivals


def md1_mean_wait_s(times: Times, service_s: float) -> float:
    """The mean wait in queue of these arrivals at one server taking service_s each (Lindley's recursion:
    each waits what the one before waited and served, less the gap between them, or nothing)."""
    wait = total = 0.0
    for gap in np.diff(times).tolist():
        wait = max(0.0, wait + service_s - gap)
        total += wait
    return total / len(times)


def _long(kind: str) -> Times:
    """MD1_HORIZON_S of arrivals at MD1_RATE: Poisson, evenly spaced, or Poisson pairs."""
    rate = MD1_RATE / 2 if kind == "pairs" else MD1_RATE
    arrival: ArrivalKind = "constant" if kind == "constant" else "poisson"
    until = itertools.takewhile(
        lambda a: a.t_ns < MD1_HORIZON_S * 1e9, open_loop([TenantRate("m", rate, arrival)], seed=SEED)
    )
    times = np.array([a.t_ns / 1e9 for a in until])
    return np.repeat(times, 2) if kind == "pairs" else times


@pytest.mark.parametrize(
    ("kind", "within"),
    [
        # M/D/1: W = ρS / (2(1 − ρ)) = 0.5 × 10 ms / (2 × 0.5) = 5 ms. The mean of 200,000 waits has a
        # relative sd of 0.8% (simulated: 7.9% for 2,000, and it falls as 1/√n), so ±5% is over 5.7 sd.
        ("poisson", (0.95, 1.05)),
        # Evenly spaced (D/D/1, gaps 20 ms > 10 ms): nobody ever waits.
        ("constant", (0.0, 0.0)),
        # Pairs at 25/s: a pair's first waits as in an M/D/1 of 20 ms services at ρ = 0.5, 20 ms × 0.5 /
        # (2 × 0.5) = 10 ms, and its second 10 ms more, behind its partner: a mean of 15 ms, 3x.
        ("pairs", (2.85, 3.15)),
    ],
)
def test_one_server_queues_as_md1_behind_poisson_arrivals(kind: str, within: tuple[float, float]) -> None:
    """The queueing the integration test checks Triton against (test_loadgen_validation), from the
    schedule alone: behind Poisson arrivals a deterministic server waits as the M/D/1 formula says; too
    even a schedule would not wait, a bunched one would wait three times as long."""
    ratio = md1_mean_wait_s(_long(kind), MD1_SERVICE_S) / 0.005
    assert within[0] <= ratio <= within[1], ratio
