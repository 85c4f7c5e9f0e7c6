"""Intervals on λ, savings and $/1M: one search's bracket, K repeated searches' t-interval, propagation to
the saving and the cost, and what the report says of a saving whose interval holds zero."""

import dataclasses
import math
import statistics
from pathlib import Path
from typing import Any

import pytest

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


def test_one_search_is_its_bracket_and_repeats_a_t_interval() -> None:
    assert of_searches([(80.0, 84.0)]) == Estimate(80.0, 80.0, 84.0, 1)
    found = of_searches([(90.0, 95.0), (100.0, 105.0), (110.0, 115.0)])
    half = 2.920 * 10.0 / math.sqrt(3)  # t(0.95, 2 df) × s / √K, s = 10
    assert found.value == 100.0 and found.searches == 3
    assert found.low == pytest.approx(100.0 - half) and found.high == pytest.approx(105.0 + half)
    assert t95(1) == 6.314 and t95(30) == 1.697 and t95(200) == 1.645


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
