"""Latency distributions as HDR histograms: exact to 3 significant digits, exactly mergeable."""

from collections.abc import Iterable

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
    result = {f"p{p:g}_ms": histogram.get_value_at_percentile(p) / 1e6 for p in REPORTED_PERCENTILES}
    result["max_ms"] = histogram.get_max_value() / 1e6
    result["mean_ms"] = histogram.get_mean_value() / 1e6
    return result


def encode(histogram: HdrHistogram) -> str:
    """Compressed base64 form, as other HDR tools read it."""
    return str(histogram.encode().decode("ascii"))


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))
