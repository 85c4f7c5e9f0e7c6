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
QUICK: dict[str, Any] = {"search": {"tolerance": 0.05, "max_probes": 12}, "sla": "p95=100ms"}


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


def test_peak_finds_the_modelled_capacity(tmp_path: Path) -> None:
    # One instance of a 10 ms sleep: capacity 100 req/s; p95 = 10(1 + 3ρ/(1−ρ)) ≤ 100 ms ⇔ ρ ≤ 0.75.
    _, _, results, phases = _run(tmp_path, kind="peak", models=[FAST])
    found = results.findings
    assert isinstance(found, peak.Findings)
    assert phases == ["dedicated synthetic-sleep"]
    assert found.peaks["synthetic-sleep"].total_rps == pytest.approx(75, rel=0.05)
    assert found.peaks["synthetic-sleep"].total_rps <= 75  # λ is a rate measured feasible


def test_fig1_saving_and_costs(tmp_path: Path) -> None:
    _, _, results, _ = _run(tmp_path, kind="dedicated-vs-multitenant", models=[FAST, CPU])
    found = results.findings
    assert isinstance(found, fig1.Findings) and found.fig1 is not None
    peaks = {m: p.total_rps for m, p in found.peaks.items()}
    shared = found.fig1.shared.rates_rps
    assert set(shared) == {"synthetic-sleep", "synthetic-cpu"}
    assert shared["synthetic-sleep"] == pytest.approx(shared["synthetic-cpu"])  # equal share
    assert found.fig1.saving == pytest.approx(1 - 1 / sum(shared[m] / peaks[m] for m in peaks))
    assert found.fig1.saving > 0  # a sleeping model and a CPU-bound one barely interfere here
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
    measured = [p for p in found.fig2.points if p.source == "measured"]
    lam_a = found.fig2.peaks["synthetic-sleep"]
    assert sorted(round(p.rates_rps["synthetic-sleep"] / lam_a, 6) for p in measured) == fractions
    assert {p.source for p in found.fig2.points} == {"dedicated", "measured", "shared peak"}
    chosen = max((p for p in found.fig2.points if p.source != "dedicated"), key=lambda p: p.saving)
    assert found.fig2.best == chosen
    confirmed = found.fig2.confirmed
    assert confirmed is not None and confirmed.direction == chosen.direction
    assert found.fig2.max_saving == confirmed.saving  # the headline is the confirmation, not the choice


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
    # Two CPU-bound models share the cores: each one's λ beside the other falls; the sleeper's does not.
    beside = {(s.victim, s.aggressors[0]): s.peak_ratio for s in found.pairs}
    assert beside[("synthetic-cpu", "synthetic-cpu-2")] < 0.9
    assert beside[("synthetic-sleep", "synthetic-cpu")] == pytest.approx(1.0, abs=0.1)
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
    assert found.rows[0].dedicated_rps == found.rows[1].dedicated_rps  # measured once, used by both
    assert (
        found.rows[2].dedicated_rps["synthetic-sleep"] > 1.5 * found.rows[0].dedicated_rps["synthetic-sleep"]
    )
    assert len(phases) == 4 * 3 + 2 + 1  # the grid, each model's best alone again, the best setting again
    # Each model's best setting alone was searched again after the grid: every saving is against those.
    exp = _exp(kind="knobs", models=[FAST, CPU], knobs=grid)
    for model, alone in found.against.items():
        again = dedicated_found(store.trials(run_id), exp, dict(alone.setting), confirm=True)
        assert alone.rps == again[model].total_rps
    # The setting chosen as saving most was searched again, and the headline is that search.
    assert found.best is not None and found.confirmed is not None
    assert found.confirmed.setting == found.best.setting and found.headline is found.confirmed
    assert found.best.saving == max(r.saving for r in found.rows if r.saving is not None)


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
