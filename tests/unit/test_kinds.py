"""Every experiment kind, run by the real lab, probes and searches over a model of a server (fake_server),
then analysed from the stored trial rows: what each kind plans, stores under its keys, and reads back."""

from pathlib import Path
from typing import Any

import pytest

from perseus.experiments import fig1, frontier, interference, knobs, peak, qos
from perseus.experiments.analysis import dedicated_found
from perseus.experiments.registry import KINDS, parse_experiment
from perseus.experiments.results import experiment_results
from perseus.store import Store
from tests.unit.fake_server import doubting_session, replay_session, run_on

FAST, CPU, CPU2 = "synthetic-sleep:service_ms=10", "synthetic-cpu:dim=64", "synthetic-cpu:dim=32"
# The kinds' tests hand-compute their searches' probes with the wide opening (×2 / ÷4 from the start);
# the near one is test_search's.
QUICK: dict[str, Any] = {
    "search": {"tolerance": 0.05, "max_probes": 12, "opening": "wide"},
    "sla": "p95=100ms",
}


def _exp(**fields: Any) -> Any:
    return parse_experiment({"name": "t", **QUICK, **fields}, "test")


def _run(tmp_path: Path, **fields: Any) -> tuple[Store, int, Any, list[str]]:
    store = Store(tmp_path / "results.db")
    exp = _exp(**fields)
    run_id, phases = run_on(store, exp)
    assert phases.labels == kind_plan(exp)  # progress counts exactly the phases the kind runs
    assert phases.totals == {len(phases.labels)}
    return store, run_id, experiment_results(store, run_id), phases.labels


def kind_plan(exp: Any) -> list[str]:
    return next(k for k in KINDS if exp.kind == k.NAME).plan(exp)


# λ alone, as fake_server models them and the bisection (tolerance 5%) finds them:
# - synthetic-sleep (one instance of a 10 ms sleep): p95 = 10(1 + 3ρ/(1 − ρ)) ≤ 100 ms up to ρ = 0.75, 75
#   req/s. From 0.8 × the closed-loop 100 = 80 (no), 80/4 = 20 (yes), it bisects 50, 65, 72.5 (yes),
#   76.25 (no), 74.375 (yes) and stops: 76.25 − 74.375 = 1.875 ≤ 5% of 74.375.
# - synthetic-cpu (2 ms on its one core): p95 = 2(1 + 3ρ/(1 − ρ)) ≤ 100 ms up to ρ = 49/52, 471.15 req/s.
#   From 0.8 × 500 = 400 (yes), 800 (no), then 600, 500 (no), 450 (yes), 475 (no), 462.5 (yes): 462.5.
LAM_SLEEP, LAM_CPU = 74.375, 462.5


def test_peak_finds_the_modelled_capacity(tmp_path: Path) -> None:
    _, _, results, phases = _run(tmp_path, kind="peak", models=[FAST])
    found = results.findings
    assert isinstance(found, peak.Findings)
    assert phases == ["dedicated synthetic-sleep"]
    assert found.peaks["synthetic-sleep"].total_rps == LAM_SLEEP
    # Its bracket: λ and the lowest infeasible rate above it.
    interval = found.peaks["synthetic-sleep"].total
    assert (interval.low, interval.high) == (74.375, 76.25)


def test_fig1_saving_and_costs(tmp_path: Path) -> None:
    _, _, results, _ = _run(tmp_path, kind="dedicated-vs-multitenant", models=[FAST, CPU])
    found = results.findings
    assert isinstance(found, fig1.Findings) and found.fig1 is not None
    assert {m: p.total_rps for m, p in found.peaks.items()} == {
        "synthetic-sleep": LAM_SLEEP,
        "synthetic-cpu": LAM_CPU,
    }
    # Equal shares, from where sharing breaks even: s = 1/(0.5/74.375 + 0.5/462.5) = 128.143 req/s in all
    # (Σ r/λ = 1). The sleeper's half, s/2 = 64.07 req/s, has 75 to go to; the CPU-bound one takes no core
    # from it. So 2s (no), 1.5s, 1.25s (no), 1.125s (yes), 1.1875s (no: 76.1 req/s each), 1.15625s (yes:
    # 74.08) and stop: the shared peak is 1.15625 s, 148.165 req/s, 74.083 each, Σ r/λ = 1.15625, and the
    # saving 1 − 1/1.15625 = 5/37 = 13.51%.
    shared = found.fig1.shared.rates_rps
    assert shared == pytest.approx({"synthetic-sleep": 74.0826, "synthetic-cpu": 74.0826}, rel=1e-5)
    assert found.fig1.saving == pytest.approx(5 / 37)
    assert [c.placement for c in found.fig1.costs] == [
        "synthetic-sleep dedicated",
        "synthetic-cpu dedicated",
        "shared",
    ]


def test_frontier_points(tmp_path: Path) -> None:
    fractions = [0.25, 0.5]
    _, _, results, phases = _run(
        tmp_path, kind="frontier", models=[FAST, CPU], frontier={"fractions": fractions}
    )
    found = results.findings
    assert isinstance(found, frontier.Findings) and found.fig2 is not None
    assert phases[-3:-1] == ["frontier: synthetic-sleep at 25% of λ", "frontier: synthetic-sleep at 50% of λ"]
    assert phases[-1].startswith("confirm: shared")  # the chosen point, searched again on a fresh server
    assert {p.source for p in found.fig2.points} == {"dedicated", "measured", "shared peak"}
    # The sleeper held at f × 74.375, the CPU-bound model searched from (1 − f) × 462.5 (its own λ is 471.15
    # beside a sleeper): at 25% from s = 346.875: 2s (no), 1.5s (no), 1.25s (yes), 1.375s (no), 1.3125s
    # (yes), stop: 455.27 req/s, Σ r/λ = 0.25 + 1.3125 × 0.75 = 1.234375, saving 1 − 1/1.234375 = 15/79;
    # at 50% from 231.25: 462.5 (yes), 925, 693.75, 578.1, 520.3, 491.4, 476.95 (no), stop: 462.5 req/s,
    # Σ r/λ = 1.5, saving 1/3. The shared peak at equal shares: 5/37 (test_fig1_saving_and_costs).
    points = {p.direction: p for p in found.fig2.points if p.source != "dedicated"}
    assert {d: p.rates_rps for d, p in points.items() if d != frontier.AT_SHARE} == {
        0.25: {"synthetic-sleep": 18.59375, "synthetic-cpu": 455.2734375},
        0.5: {"synthetic-sleep": 37.1875, "synthetic-cpu": 462.5},
    }
    savings = {d: p.saving for d, p in points.items()}
    assert savings == pytest.approx({0.25: 15 / 79, 0.5: 1 / 3, frontier.AT_SHARE: 5 / 37})
    assert found.fig2.best.direction == 0.5  # the point that saved most
    # Its confirmation, on a fresh server that fake_server runs 1.25× slower: 2.5 ms a request, so p95 =
    # 2.5(1 + 3ρ/(1 − ρ)) ≤ 100 ms up to ρ = 39/42, 371.43 req/s. From 231.25: 462.5 (no), 1.5× (yes),
    # 1.75×, 1.625× (no: 375.78), 1.5625× (yes: 361.33), stop: Σ r/λ = 0.5 + 361.33/462.5 = 0.5 + 0.78125
    # = 1.28125, saving 1 − 1/1.28125 = 9/41 = 21.95%, below the 1/3 chosen. The headline is the former.
    confirmed = found.fig2.confirmed
    assert confirmed is not None and confirmed.direction == 0.5
    assert confirmed.rates_rps == {"synthetic-sleep": 37.1875, "synthetic-cpu": 361.328125}
    assert found.fig2.max_saving == pytest.approx(9 / 41)


def test_qos_sweep_phases_and_curves(tmp_path: Path) -> None:
    # The previous release counted 2n+1 phases for n models but ran n+1: the bar never reached its end.
    _, _, results, phases = _run(
        tmp_path, kind="qos-sweep", models=[FAST, CPU], qos={"fractions": [0.5, 1.2]}
    )
    assert len(phases) == 3
    found = results.findings
    assert isinstance(found, qos.Findings)
    curves = {(c.tenant, c.placement): c for c in found.curves}
    assert set(curves) == {
        (m, p) for m in ("synthetic-sleep", "synthetic-cpu") for p in ("alone", "co-located")
    }
    for curve in curves.values():
        assert [p.fraction_of_peak for p in curve.points] == [0.5, 1.2]
        assert [p.sla_met for p in curve.points] == [True, False]


def test_a_probe_measured_again_counts_once(tmp_path: Path) -> None:
    """Every probe's first attempt is unstable, so each is measured twice; a curve still has one point per
    load, from the attempt the run went on with."""
    store = Store(tmp_path / "results.db")
    exp = _exp(kind="qos-sweep", models=[FAST, CPU], qos={"fractions": [0.5, 1.2]})
    run_id, _ = run_on(store, exp, doubting_session)
    keys = [t.key for t in store.trials(run_id) if t.key is not None and t.key.purpose == "qos"]
    assert sorted(k.attempt for k in keys) == [0] * 6 + [1] * 6
    for curve in experiment_results(store, run_id).findings.curves:
        assert [p.fraction_of_peak for p in curve.points] == [0.5, 1.2]
        # Over both attempts: fake_server's retry reports 90% of the first's QoS satisfaction, so a point
        # within its SLA (at half λ) says (1.0 + 0.9)/2 = 0.95 and one past it (at 1.2 λ) (0.5 + 0.45)/2 =
        # 0.475. The first attempt alone would say 1.0 and 0.5, the retry alone 0.9 and 0.45.
        assert [p.satisfaction for p in curve.points] == pytest.approx([0.95, 0.475])
        assert [p.sla_met for p in curve.points] == [True, False]


def test_interference_three_models_with_peaks(tmp_path: Path) -> None:
    """Three models, peaks: true (the default). The previous release reused the label of the first pair's
    last peak search for every later pair's co-located trial, so only the first pair's 2 slowdowns of 6
    came out (run 7 of tests/fixtures/store-v3 shows it)."""
    settings = {"copies": 2, "pinning": [False, True], "peaks": True}
    _, _, results, phases = _run(
        tmp_path, kind="interference", models=[FAST, CPU, CPU2], interference=settings
    )
    found = results.findings
    assert isinstance(found, interference.Findings)
    pairs = {(s.victim, s.aggressors[0]) for s in found.pairs}
    keys = ["synthetic-sleep", "synthetic-cpu", "synthetic-cpu-2"]
    assert pairs == {(v, a) for v in keys for a in keys if v != a}
    assert all(s.peak_together_rps is not None for s in found.pairs)  # every victim's λ beside its aggressor
    # Each victim searched from half its λ alone, the other held at half its own. Two CPU-bound models share
    # the core: beside the other's 231.25 req/s a victim has 471.15 − 231.25 = 239.9 left: 231.25 (yes),
    # 462.5, 346.875, 289.06, 260.16, 245.7 (no), 238.48 (yes), stop: 238.4765625 / 462.5 = 0.515625. A
    # sleeper and a CPU-bound model take nothing from each other: the sleeper from 37.1875, 74.375 (yes),
    # 148.75 down to 76.7 (no): 74.375 as alone; the CPU-bound one 462.5 as alone: ratios 1.
    beside = {(s.victim, s.aggressors[0]): s.peak_ratio for s in found.pairs}
    assert beside == {
        ("synthetic-cpu", "synthetic-cpu-2"): 0.515625,
        ("synthetic-cpu-2", "synthetic-cpu"): 0.515625,
        ("synthetic-sleep", "synthetic-cpu"): 1.0,
        ("synthetic-sleep", "synthetic-cpu-2"): 1.0,
        ("synthetic-cpu", "synthetic-sleep"): 1.0,
        ("synthetic-cpu-2", "synthetic-sleep"): 1.0,
    }
    assert [s.pinned for s in found.copies] == [False, True]
    assert len(phases) == 3 + 3 + 2


def test_interference_without_copies_counts_no_copy_phases(tmp_path: Path) -> None:
    # The previous release counted a phase per pinning even when copies < 2 skipped them.
    settings = {"copies": 0, "peaks": False}
    _, _, results, phases = _run(tmp_path, kind="interference", models=[FAST, CPU], interference=settings)
    assert len(phases) == 2 + 1
    assert results.findings.copies == [] and len(results.findings.pairs) == 2


def test_knobs_share_dedicated_peaks_across_pinning(tmp_path: Path) -> None:
    grid = {"instances": [1, 2], "pinning": ["shared", "split"]}
    store, run_id, results, phases = _run(tmp_path, kind="knobs", models=[FAST, CPU], knobs=grid)
    found = results.findings
    assert isinstance(found, knobs.Findings)
    assert [(r.setting["instances"], r.setting["pinning"]) for r in found.rows] == [
        (1, "shared"),
        (1, "split"),
        (2, "shared"),
        (2, "split"),
    ]
    # λ alone: 74.375 and 462.5 with one instance (above); two instances of the sleeper serve twice as much
    # at every rate of its search (148.75); two of the CPU-bound model share its one core (462.5 again).
    by_instances = [row.dedicated_rps for row in found.rows[::2]]
    assert by_instances == [
        {"synthetic-sleep": 74.375, "synthetic-cpu": 462.5},
        {"synthetic-sleep": 148.75, "synthetic-cpu": 462.5},
    ]
    assert found.rows[0].dedicated_rps == found.rows[1].dedicated_rps  # measured once, used by both
    assert len(phases) == 4 * 3 + 2 + 1  # the grid, each model's best alone again, the best setting again
    # Each model's best setting alone was searched again after the grid, on a server fake_server runs 1.25×
    # slower: the sleeper at 2 instances of 12.5 ms, 110 (test_profile_kind), the CPU-bound one at 1 of 2.5
    # ms, up to ρ = 39/42 (371.43 req/s): from 320 (yes), 640, 480, 400 (no), 360 (yes), 380 (no), 370.
    # Every saving is against those.
    exp = _exp(kind="knobs", models=[FAST, CPU], knobs=grid)
    assert {m: (a.rps, a.setting["instances"]) for m, a in found.against.items()} == {
        "synthetic-sleep": (110.0, 2),
        "synthetic-cpu": (370.0, 1),
    }
    for model, alone in found.against.items():
        again = dedicated_found(store.trials(run_id), exp, dict(alone.setting), confirm=True)
        assert alone.rps == again[model].total_rps
    # Shared, at one instance: 74.083 each (test_fig1_saving_and_costs), Σ r/λ = 74.083/110 + 74.083/370 =
    # 0.87370, saving −14.46%. At two: from s = 1/(0.5/148.75 + 0.5/462.5) = 225.10, the sleeper's half
    # reaching its 150 at 1.333 s: 2s, 1.5s (no), 1.25s (yes), 1.375s (no), 1.3125s (yes): 147.72 each,
    # Σ r/λ = 147.72/110 + 147.72/370 = 1.74219, saving 42.60%. Pinning changes nothing here.
    savings = [row.saving for row in found.rows]
    assert savings == pytest.approx([-0.144553, -0.144553, 0.426010, 0.426010], abs=1e-6)
    # The first setting that saved most was searched again, and the headline is that search: on the 1.25×
    # slower server, from where sharing breaks even against 110 and 370 (s = 169.58), 2s, 1.5s (no), 1.25s
    # (yes), 1.375s (no), 1.3125s (yes): Σ r/λ = 1.3125, saving 1 − 1/1.3125 = 5/21, not the 42.60% chosen.
    assert found.best is not None and found.confirmed is not None
    assert (found.best.setting["instances"], found.best.setting["pinning"]) == (2, "shared")
    assert found.confirmed.setting == found.best.setting and found.headline is found.confirmed
    assert found.confirmed.saving == pytest.approx(5 / 21)


def test_a_finished_run_resumes_without_measuring(tmp_path: Path) -> None:
    """Re-running the same plan over the stored trials asks only for trials already stored (the keys
    written are the keys read back)."""
    store = Store(tmp_path / "results.db")
    exp = _exp(kind="frontier", models=[FAST, CPU], frontier={"fractions": [0.5]})
    run_id, _ = run_on(store, exp)
    before = len(store.trials(run_id))
    assert run_on(store, exp, replay_session, run_id)[0] == run_id
    assert len(store.trials(run_id)) == before


def test_every_kind_is_registered_once_with_a_report() -> None:
    import importlib

    names = [k.NAME for k in KINDS]
    assert len(names) == len(set(names)) == 8
    for kind in KINDS:
        drawing = importlib.import_module(kind.REPORT)
        assert callable(drawing.tables)
        assert all(callable(getattr(drawing, f, print)) for f in ("figures", "headline", "searches"))
