"""HDR histograms: merging equals the histogram of the union; encode/decode round-trips."""

from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.core.histogram import (
    decode,
    encode,
    histogram_of,
    mean_value,
    merged,
    percentiles_ms,
    values_at_percentiles,
)

values = st.lists(st.integers(min_value=1_000, max_value=10**11), max_size=200)


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=5))
def test_merge_equals_histogram_of_union(parts: list[list[int]]) -> None:
    union = histogram_of(v for part in parts for v in part)
    combined = merged(histogram_of(part) for part in parts)
    assert combined.get_total_count() == union.get_total_count()
    assert percentiles_ms(combined) == percentiles_ms(union) or union.get_total_count() == 0
    assert encode(combined) == encode(union)


@settings(max_examples=30, deadline=None)
@given(values)
def test_encode_round_trip(sample: list[int]) -> None:
    histogram = histogram_of(sample)
    back = decode(encode(histogram))
    assert back.get_total_count() == len(sample)
    if sample:
        assert back.get_max_value() == histogram.get_max_value()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=4 * 3_600 * 10**9), min_size=1, max_size=300),
    st.lists(st.floats(min_value=0.001, max_value=100.0), min_size=1, max_size=6),
)
def test_fast_percentiles_and_mean_are_hdrhs_own(sample: list[int], percentiles: list[float]) -> None:
    """Read from the bucket counts with numpy, value for value what hdrh's own walk gives, also for a
    decoded histogram (whose counts may be stored short) and values clamped at either end."""
    histogram = histogram_of(sample)
    for one in (histogram, decode(encode(histogram))):
        hdrh_own = [one.get_value_at_percentile(p) for p in percentiles]
        assert values_at_percentiles(one, percentiles) == hdrh_own
        assert mean_value(one) == one.get_mean_value()
