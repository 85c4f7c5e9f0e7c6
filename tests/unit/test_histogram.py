"""HDR histograms: merging equals the histogram of the union; encode/decode round-trips."""

from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.loadgen.histogram import decode, encode, histogram_of, merged, percentiles_ms

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
