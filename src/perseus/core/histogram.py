"""Latency distributions as HDR histograms: exact to 3 significant digits, exactly mergeable. Made by the
load generator, pooled by the judge of stored trials (which must not import the load generator)."""

import functools
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
from hdrh.histogram import HdrHistogram

LOWEST_NS = 1_000  # 1 µs: nothing we time is faster
HIGHEST_NS = 3_600 * 1_000_000_000  # 1 h: anything slower is clamped
SIGNIFICANT_DIGITS = 3
REPORTED_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)


def histogram_of(values_ns: Iterable[int]) -> HdrHistogram:
    histogram = new_histogram()
    for value in values_ns:
        histogram.record_value(min(max(value, LOWEST_NS), HIGHEST_NS))
    return histogram


def merged(histograms: Iterable[HdrHistogram]) -> HdrHistogram:
    total = new_histogram()
    for histogram in histograms:
        total.add(histogram)
    return total


def percentiles_ms(histogram: HdrHistogram) -> dict[str, float]:
    """p50 … p99.9, max and mean in ms; NaN when empty."""
    if histogram.get_total_count() == 0:
        keys = [f"p{p:g}_ms" for p in REPORTED_PERCENTILES] + ["max_ms", "mean_ms"]
        return {key: float("nan") for key in keys}
    values = values_at_percentiles(histogram, REPORTED_PERCENTILES)
    result = {f"p{p:g}_ms": value / 1e6 for p, value in zip(REPORTED_PERCENTILES, values, strict=True)}
    result["max_ms"] = histogram.get_max_value() / 1e6
    result["mean_ms"] = mean_value(histogram) / 1e6
    return result


# hdrh walks its ~25,000 buckets one Python call at a time for each percentile and for the mean: ~0.4 s a
# trial summary when latencies reach seconds. The same answers from numpy over the bucket counts (the
# tests compare them with hdrh's own, value for value).


def _bucket_values(histogram: HdrHistogram) -> tuple[npt.NDArray[np.int64], list[int]]:
    """Per bucket index of this histogram's layout: the highest value it stands for (what a percentile
    reports) and its median equivalent value (what the mean weighs it by)."""
    return _layout(
        histogram.lowest_trackable_value, histogram.highest_trackable_value, histogram.significant_figures
    )


@functools.cache
def _layout(lowest_ns: int, highest_ns: int, digits: int) -> tuple[npt.NDArray[np.int64], list[int]]:
    histogram = HdrHistogram(lowest_ns, highest_ns, digits)
    lowest = [histogram.get_value_from_index(i) for i in range(histogram.counts_len)]
    highest = np.array([histogram.get_highest_equivalent_value(v) for v in lowest], dtype=np.int64)
    return highest, [histogram._hdr_median_equiv_value(v) for v in lowest]


def _counts(histogram: HdrHistogram) -> npt.NDArray[np.int64]:
    counts = np.zeros(histogram.counts_len, dtype=np.int64)
    filled = min(histogram.counts_len, histogram.encoder.payload.counts_len)  # a decoded one may be short
    counts[:filled] = np.ctypeslib.as_array(histogram.counts)[:filled]
    return counts


def values_at_percentiles(histogram: HdrHistogram, percentiles: Iterable[float]) -> list[int]:
    """histogram.get_value_at_percentile(p) for each p in (0, 100], in one pass over the counts."""
    highest, _ = _bucket_values(histogram)
    cumulative = np.cumsum(_counts(histogram))
    total = histogram.get_total_count()
    found = []
    for percentile in percentiles:
        target = max(int(min(percentile, 100.0) * total / 100 + 0.5), 1)
        found.append(int(highest[min(int(np.searchsorted(cumulative, target)), len(highest) - 1)]))
    return found


def mean_value(histogram: HdrHistogram) -> float:
    """histogram.get_mean_value(): each bucket's count times its median equivalent value, summed exactly."""
    total = histogram.get_total_count()
    if total == 0:
        return 0.0
    _, median = _bucket_values(histogram)
    counts = _counts(histogram)
    return float(sum(int(counts[i]) * median[i] for i in np.flatnonzero(counts))) / float(total)


def encode(histogram: HdrHistogram) -> str:
    """Compressed base64 form, as other HDR tools read it."""
    return str(histogram.encode().decode("ascii"))


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))
