"""Intervals on λ, savings and $/1M: one search's bracket, K repeated searches' t-interval, propagation to
the saving and the cost, and what the report says of a saving whose interval holds zero."""

import dataclasses
import math
import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus.config.prices import load_catalog
from perseus.core.interval import Estimate, of_searches, t95
from perseus.cost.pricing import cost_line
from perseus.cost.saving import Alone, saving_interval, sharing_saving
from perseus.experiments import fig1, peak
from perseus.experiments.analysis import dedicated_found
from perseus.experiments.placements import PEAK, dedicated
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.report import fmt
from perseus.store import Store, TrialSummary
from tests.unit.fake_server import drifting_session, run_on
from tests.unit.test_kinds import CPU, FAST, QUICK, kind_plan
from tests.unit.trial_rows import feasible_row


def test_one_search_is_its_bracket_and_repeats_a_t_interval_on_log_lambda() -> None:
    assert of_searches([(80.0, 84.0)]) == Estimate(80.0, 80.0, 84.0, 1)
    assert of_searches([(80.0, 84.0)]).kind == "bracket"
    found = of_searches([(90.0, 95.0), (100.0, 105.0), (110.0, 115.0)])
    logs = [math.log(x) for x in (90.0, 100.0, 110.0)]
    half = 2.920 * statistics.stdev(logs) / math.sqrt(3)  # t(0.95, 2 df) × s / √K, on log λ
    centre = statistics.fmean(logs)
    highs = statistics.fmean(math.log(x) for x in (95.0, 105.0, 115.0))
    assert found.value == pytest.approx(math.exp(centre)) and found.searches == 3 and found.kind == "t90"
    assert found.low == pytest.approx(math.exp(centre - half))
    assert found.high == pytest.approx(math.exp(highs + half))
    assert t95(1) == 6.314 and t95(30) == 1.697 and t95(200) == 1.645


def test_two_searches_far_apart_keep_a_positive_interval_and_a_saving() -> None:
    """The issue's case: 40 and 60 req/s gave an arithmetic interval down to −13 req/s, and the saving
    against it raised "dedicated peaks must be > 0"."""
    lam = of_searches([(40.0, 42.0), (60.0, 62.0)])
    assert 0 < lam.low < 40.0 and lam.high > 62.0
    assert lam.value == pytest.approx(math.sqrt(40.0 * 60.0))
    saving = saving_interval({"a": Estimate(30.0, 28.0, 32.0, 2)}, {"a": Alone("a", lam.value, {}, lam)})
    assert saving.low <= saving.value <= saving.high < 1
    assert "90% interval over 2 searches" in fmt.saving_interval_text(saving)


def test_an_interval_can_be_labelled_a_min_max() -> None:
    """A merged profile's λ spans its runs' measurements: min to max, which the report must not call a
    90% interval; a figure derived from it (scaled, priced, a saving) says so too."""
    spread = Estimate(100.0, 80.0, 130.0, 3, min_max=True)
    assert spread.kind == "min-max" and "min–max over 3" in fmt.basis(spread)
    assert "90%" not in fmt.basis(spread)
    assert spread.scaled(0.5).kind == "min-max"
    assert spread.map_decreasing(lambda v: 1 / v).kind == "min-max"
    saving = saving_interval({"a": Estimate.exact(60.0)}, {"a": Alone("a", 100.0, {}, spread)})
    assert saving.kind == "min-max" and "90%" not in fmt.saving_interval_text(saving)


RATES = st.floats(min_value=0.05, max_value=1e5, allow_nan=False)
BRACKETS = st.lists(
    st.tuples(RATES, st.floats(min_value=1.0, max_value=1.5)).map(lambda b: (b[0], b[0] * b[1])),
    min_size=1,
    max_size=12,
)


@given(BRACKETS)
def test_the_interval_of_repeated_searches_stays_positive_and_holds_its_value(
    brackets: list[tuple[float, float]],
) -> None:
    lam = of_searches(brackets)
    assert 0 < lam.low <= lam.value <= lam.high
    assert lam.searches == len(brackets)
    # Scaling every search scales λ and both ends (a rate in other units is the same finding).
    scaled = of_searches([(lo * 3, hi * 3) for lo, hi in brackets])
    assert scaled.value == pytest.approx(3 * lam.value, rel=1e-9)
    assert scaled.low == pytest.approx(3 * lam.low, rel=1e-9)
    assert scaled.high == pytest.approx(3 * lam.high, rel=1e-9)


@given(BRACKETS, BRACKETS, st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=0.0, max_value=1.0))
def test_no_saving_or_cost_of_repeated_searches_raises(
    a: list[tuple[float, float]], b: list[tuple[float, float]], share_a: float, share_b: float
) -> None:
    """Whatever the repeats found, the figures a report derives from them are computed, never raised."""
    peaks = {"a": of_searches(a), "b": of_searches(b)}
    against = {m: Alone(m, lam.value, {}, lam) for m, lam in peaks.items()}
    rates = {"a": peaks["a"].scaled(share_a), "b": peaks["b"].scaled(share_b)}
    saving = saving_interval(rates, against)
    assert saving.low <= saving.value <= saving.high <= 1
    fmt.saving_interval_text(saving)
    fmt.saving_headline(saving, "here")
    machine = load_catalog().get("gcp-n2-standard-2")
    usd = cost_line("shared", machine, peaks["a"].value, peaks["a"]).usd
    assert 0 < usd.low <= usd.value <= usd.high


def test_a_report_of_repeats_far_apart_does_not_fail(tmp_path: Path) -> None:
    """Two servers, the second 60% slower: a stored Fig 1 run whose searches differ by more than ~37%
    used to fail in its report (the dedicated λ's low end fell below 0)."""
    results, _ = _run(tmp_path, [1.0, 1.6], kind="dedicated-vs-multitenant", models=[FAST, CPU], repeats=2)
    found = results.findings
    assert isinstance(found, fig1.Findings) and found.fig1 is not None
    for peak_ in found.peaks.values():
        assert 0 < peak_.total.low <= peak_.total.value <= peak_.total.high
    saving = found.fig1.saving_interval
    assert saving.low <= saving.value <= saving.high
    assert "90% interval over 2 searches" in fmt.saving_interval_text(saving)


def test_the_saving_interval_takes_the_extremes_of_its_parts() -> None:
    peaks = {"a": Alone("a", 100.0, {}, Estimate(100.0, 90.0, 110.0, 3)), "b": Alone("b", 50.0, {})}
    rates = {"a": Estimate(60.0, 55.0, 65.0, 3), "b": Estimate.exact(20.0)}
    found = saving_interval(rates, peaks)
    assert found.value == pytest.approx(sharing_saving({"a": 60.0, "b": 20.0}, {"a": 100.0, "b": 50.0}))
    assert found.low == pytest.approx(1 - 1 / (55 / 110 + 20 / 50))
    assert found.high == pytest.approx(1 - 1 / (65 / 90 + 20 / 50))
    assert found.low < found.value < found.high and found.searches == 3
    assert found.spans_zero()  # -11.1% to +10.9%


def test_the_cost_interval_falls_as_the_throughput_rises() -> None:
    machine = load_catalog().get("gcp-n2-standard-2")
    line = cost_line("shared", machine, 50.0, Estimate(50.0, 40.0, 60.0, 2))
    assert line.usd.value == pytest.approx(line.usd_per_1m)
    assert line.usd.low == pytest.approx(machine.usd_per_h / (3600 * 60.0) * 1e6)
    assert line.usd.high == pytest.approx(machine.usd_per_h / (3600 * 40.0) * 1e6)


def test_a_bracket_comes_from_the_lowest_infeasible_probe_above_lambda() -> None:
    exp = parse_experiment({"name": "p", "kind": "peak", "models": ["synthetic-cpu"]}, "t")
    where = dedicated(exp, "synthetic-cpu")
    (name,) = where.names
    rows = [feasible_row(1, where, PEAK, {"synthetic-cpu": 40.0}, tenant=name)]
    for i, rate in enumerate((80.0, 60.0), start=2):  # infeasible: the lower one bounds λ
        row = feasible_row(i, where, PEAK, {"synthetic-cpu": rate}, tenant=name)
        missed = TrialSummary({name: {**row.summary.tenants[name], "sla_met": False, "p95_ms": 900.0}})
        rows.append(dataclasses.replace(row, summary=missed))
    rows.append(feasible_row(4, where, PEAK, {"synthetic-cpu": 50.0}, tenant=name))
    found = dedicated_found(rows, exp)["synthetic-cpu"]
    assert (found.total.value, found.total.low, found.total.high) == (50.0, 50.0, 60.0)


def _run(tmp_path: Path, slowdowns: list[float], **fields: Any) -> Any:
    store = Store(tmp_path / "results.db")
    exp = parse_experiment({"name": "t", **QUICK, **fields}, "test")
    run_id, phases = run_on(store, exp, drifting_session(slowdowns))
    assert phases.labels == kind_plan(exp)
    return experiment_results(store, run_id), phases.labels


def test_repeats_search_each_placement_on_fresh_servers(tmp_path: Path) -> None:
    # One instance of a 10 ms sleep, 10% slower or faster per server: λ ≈ 75 req/s / slowdown each time.
    results, phases = _run(tmp_path, [1.0, 1.1, 0.9], kind="peak", models=[FAST], repeats=3)
    assert phases == [
        "dedicated synthetic-sleep",
        "dedicated synthetic-sleep (repeat=2)",
        "dedicated synthetic-sleep (repeat=3)",
    ]
    found = results.findings
    assert isinstance(found, peak.Findings)
    lam = found.peaks["synthetic-sleep"]
    each = [75 / s for s in (1.0, 1.1, 0.9)]
    assert lam.total.searches == 3
    assert lam.total.value == pytest.approx(statistics.fmean(each), rel=0.06)
    assert lam.total.low < min(each) * 1.01 and lam.total.high > max(each) * 0.99
    assert len({p.trial_id for p in lam.probes}) == len(lam.probes)  # every search's probes, once each


def test_repeated_fig1_carries_intervals_to_saving_and_costs(tmp_path: Path) -> None:
    results, _ = _run(tmp_path, [1.0, 1.15], kind="dedicated-vs-multitenant", models=[FAST, CPU], repeats=2)
    found = results.findings
    assert isinstance(found, fig1.Findings) and found.fig1 is not None
    saving = found.fig1.saving_interval
    assert saving.searches == 2 and saving.low < saving.value < saving.high
    for line in found.fig1.costs:
        assert line.usd.low < line.usd_per_1m < line.usd.high
    assert all(a.lam.searches == 2 for a in found.fig1.against.values())


def test_one_repeat_keeps_the_spec_of_runs_stored_before_repeats() -> None:
    fields = {"name": "p", "kind": "peak", "models": ["synthetic-cpu"]}
    assert "repeats" not in parse_experiment(fields, "t").model_dump(mode="json")
    assert parse_experiment({**fields, "repeats": 3}, "t").model_dump(mode="json")["repeats"] == 3


@pytest.mark.parametrize(
    ("saving", "said"),
    [
        (Estimate(0.03, -0.01, 0.08, 3), "not distinguishable from zero (-1.0% to +8.0%)"),
        (Estimate(0.05, 0.02, 0.08, 3), "saves 5.0% (+2.0% to +8.0%)"),
        (Estimate(-0.05, -0.08, -0.02, 3), "costs 5.0% more (-8.0% to -2.0%)"),
    ],
)
def test_the_headline_says_whether_a_saving_is_distinguishable_from_zero(saving: Estimate, said: str) -> None:
    line = fmt.saving_headline(saving, "at the shared peak")
    assert said in line.text and "90% interval over 3 searches" in line.text
    one = fmt.saving_headline(Estimate(0.05, 0.02, 0.08, 1), "here")
    assert "search bracket only" in one.text


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "frontier", "frontier": {"fractions": [0.5]}},
        {"kind": "knobs", "knobs": {"instances": [1], "pinning": ["shared", "split"]}},
        {"kind": "qos-sweep", "qos": {"fractions": [0.5]}},
        {"kind": "interference", "interference": {"copies": 0, "peaks": False}},
    ],
    ids=lambda f: f["kind"],
)
def test_every_kind_counts_the_phases_its_repeats_run(tmp_path: Path, fields: dict[str, Any]) -> None:
    """Progress counts exactly the servers a kind starts with repeats: 2 (_run checks phases == plan)."""
    results, phases = _run(tmp_path, [1.0, 1.1], models=[FAST, CPU], repeats=2, **fields)
    assert sum("repeat=2" in p for p in phases) >= 2  # each model alone searched twice
    found = results.findings
    if fields["kind"] == "knobs":
        assert all(a.lam.searches == 2 for a in found.against.values())
    else:
        assert all(p.total.searches == 2 for p in found.peaks.values())
