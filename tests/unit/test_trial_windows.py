"""Stability windows always fit in a trial: K of them, in integer ns, within max_duration_s."""

from hypothesis import given
from hypothesis import strategies as st

from perseus.loadgen.rules import TrialRules


@given(
    max_s=st.floats(0.5, 120),
    rate=st.one_of(st.just(0.0), st.floats(0.01, 1e5)),
    k=st.integers(1, 6),
    window=st.floats(0.05, 5),
)
def test_k_windows_fit(max_s: float, rate: float, k: int, window: float) -> None:
    rules = TrialRules(min_duration_s=max_s, max_duration_s=max_s, stable_windows=k, window_s=window)
    width_ns = round(rules.effective_window_s(rate) * 1e9)
    assert k * width_ns <= round(max_s * 1e9)
