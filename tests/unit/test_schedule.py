"""Arrival schedules are pure and seeded, and produce the asked rates and mixes."""

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.core.errors import ConfigError
from perseus.loadgen import Arrival, TenantRate, open_loop, read_trace
from perseus.loadgen.schedule import split_trace

S = 1_000_000_000


def _until(arrivals: "itertools.Iterable[Arrival]", horizon_ns: int) -> list[Arrival]:
    return list(itertools.takewhile(lambda a: a.t_ns < horizon_ns, arrivals))


def test_constant_rate_is_evenly_spaced() -> None:
    got = _until(open_loop([TenantRate("m", 100.0, "constant")]), S)
    assert len(got) == 100
    assert {b.t_ns - a.t_ns for a, b in itertools.pairwise(got)} <= {9_999_999, 10_000_000, 10_000_001}


def test_same_seed_same_schedule_other_seed_differs() -> None:
    rates = [TenantRate("m", 50.0)]
    assert _until(open_loop(rates, seed=1), S) == _until(open_loop(rates, seed=1), S)
    assert _until(open_loop(rates, seed=1), S) != _until(open_loop(rates, seed=2), S)


@settings(max_examples=25, deadline=None)
@given(rate=st.floats(min_value=5, max_value=2000), seed=st.integers(0, 2**16))
def test_poisson_count_within_statistical_bounds(rate: float, seed: int) -> None:
    horizon_s = 20.0
    count = len(_until(open_loop([TenantRate("m", rate)], seed=seed), round(horizon_s * S)))
    expected = rate * horizon_s
    assert abs(count - expected) <= 5 * math.sqrt(expected) + 1  # 5 sigma of a Poisson count


@settings(max_examples=20, deadline=None)
@given(
    a=st.floats(min_value=5, max_value=500), b=st.floats(min_value=5, max_value=500), seed=st.integers(0, 999)
)
def test_mix_gives_each_tenant_its_rate_in_time_order(a: float, b: float, seed: int) -> None:
    horizon_s = 20.0
    got = _until(
        open_loop([TenantRate("a", a), TenantRate("b", b, batch=4)], seed=seed), round(horizon_s * S)
    )
    assert all(x.t_ns <= y.t_ns for x, y in itertools.pairwise(got))
    for tenant, rate in (("a", a), ("b", b)):
        count = sum(1 for x in got if x.tenant == tenant)
        assert abs(count - rate * horizon_s) <= 5 * math.sqrt(rate * horizon_s) + 1
    assert {x.batch for x in got if x.tenant == "b"} == {4}


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_workers_split_a_constant_rate_evenly(workers: int) -> None:
    rates = [TenantRate("m", 120.0, "constant")]
    union = sorted(
        a.t_ns for w in range(workers) for a in _until(open_loop(rates, worker=w, workers=workers), S)
    )
    assert len(union) == 120
    gaps = {round((b - a) / 1e3) for a, b in itertools.pairwise(union)}
    assert gaps <= {8333, 8334}


def test_workers_split_poisson_rate() -> None:
    rates = [TenantRate("m", 300.0)]
    total = sum(len(_until(open_loop(rates, seed=3, worker=w, workers=3), 10 * S)) for w in range(3))
    assert abs(total - 3000) <= 5 * math.sqrt(3000)


def test_bad_rates_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        TenantRate("m", 0.0)
    with pytest.raises(ConfigError):
        TenantRate("m", float("inf"))
    with pytest.raises(ConfigError):
        open_loop([])


def test_trace_read_sorted_with_batches(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("t_offset_s,model,batch\n0.5,b,2\n0.0,a\n# comment\n0.25,a,1\n")
    got = read_trace(trace)
    assert got == [Arrival(0, "a", 1), Arrival(250_000_000, "a", 1), Arrival(500_000_000, "b", 2)]
    assert split_trace(got, 0, 2) == [got[0], got[2]] and split_trace(got, 1, 2) == [got[1]]


@pytest.mark.parametrize("text", ["0.1\n", "x,a\n", "-1,a\n", "0.1,a,0\n", ""])
def test_bad_trace_is_one_clear_error(tmp_path: Path, text: str) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(text)
    with pytest.raises(ConfigError, match=str(trace)):
        read_trace(trace)
