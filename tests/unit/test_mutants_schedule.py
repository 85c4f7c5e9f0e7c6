"""Schedules and traces at their edges, each value worked by hand: what mutation testing
(benchmarks/mutants.py, docs/mutants.md) found no other unit test pinned."""

import itertools
from pathlib import Path

import pytest

from perseus.core.errors import ConfigError
from perseus.loadgen.schedule import Arrival, TenantRate, open_loop, read_trace


def test_a_constant_stream_is_exactly_evenly_spaced_with_its_tenant_and_batch() -> None:
    # 4 req/s: one every 250,000,000 ns exactly, from 0.
    got = list(itertools.islice(open_loop([TenantRate("a", 4.0, "constant", batch=3)]), 3))
    assert got == [Arrival(0, "a", 3), Arrival(250_000_000, "a", 3), Arrival(500_000_000, "a", 3)]


def test_constant_workers_are_phase_shifted_to_interleave() -> None:
    # 2 req/s over 2 workers: each sends 1 req/s; worker 1 is half a period (0.5 s) later.
    one = list(itertools.islice(open_loop([TenantRate("a", 2.0, "constant")], worker=1, workers=2), 2))
    assert [a.t_ns for a in one] == [500_000_000, 1_500_000_000]


def test_poisson_arrivals_carry_their_tenant_and_batch() -> None:
    first = next(open_loop([TenantRate("b", 10.0, "poisson", batch=2)], seed=3))
    assert first.tenant == "b" and first.batch == 2 and first.t_ns > 0


def test_a_trace_without_a_header_keeps_its_first_row(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("1.5,a\n0.25,b,4\n")
    # 1.5 s = 1,500,000,000 ns; sorted by time.
    assert read_trace(trace) == [Arrival(250_000_000, "b", 4), Arrival(1_500_000_000, "a", 1)]


def test_a_header_is_only_a_header_on_the_first_line(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("t_offset_s,model\n0.5,a\n")
    assert read_trace(trace) == [Arrival(500_000_000, "a", 1)]
    trace.write_text("0.5,a\nt_offset_s,model\n")
    with pytest.raises(ConfigError, match=r"t.csv:2: not a number"):
        read_trace(trace)


def test_an_unreadable_trace_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^cannot read trace .*missing.csv: No such file or directory$"):
        read_trace(tmp_path / "missing.csv")


def test_rates_under_one_request_a_second_are_rates() -> None:
    # 0.5 req/s: one every 2 s.
    got = list(itertools.islice(open_loop([TenantRate("a", 0.5, "constant")]), 2))
    assert [a.t_ns for a in got] == [0, 2_000_000_000]


def test_a_worker_index_must_be_below_the_worker_count() -> None:
    with pytest.raises(ConfigError, match=r"^worker 2 of 2$"):
        open_loop([TenantRate("a", 1.0)], worker=2, workers=2)
