"""A saving is against the cheapest way measured to serve each model alone, and says which setting that is.

The knobs run of experiments/knobs.yaml (MobileNetV2 + SqueezeNet 1.1 on a 2-core host) printed "saves
40.7% with the best setting (instances=1, …, pinning=split)": against dedicated servers of 1 instance × 1
thread, which leave a core idle. The same run measured each model alone with 2 instances at 309.2 and
314.9 req/s; against those, its best shared rates (154.9 + 154.9 req/s) cost 0.7% more. The rows below
are that run's λs, stored under the keys the kinds write, read back by the kinds' own analyses."""

import re
from typing import Any

import pytest
from rich.console import Console

from perseus.experiments import fig1, frontier, knobs
from perseus.experiments.placements import PEAK, SHARED_PEAK, dedicated, shared
from perseus.experiments.registry import parse_experiment
from perseus.report import kinds, render_html, render_results
from perseus.report.kinds.frontier import frontier_csv
from perseus.report.kinds.knobs import knobs_table
from perseus.store import TrialRow
from tests.unit.test_report_factory import sample_results
from tests.unit.trial_rows import feasible_row

MN, SQ = "mobilenet_v2", "squeezenet1_1"
ALONE = {1: {MN: 180.0, SQ: 187.6}, 2: {MN: 309.2, SQ: 314.9}}  # λ alone by instances (1 thread each)
SHARED = {(1, "shared"): 101.2, (1, "split"): 154.9, (2, "shared"): 120.3, (2, "split"): 148.6}
BEST_ALONE = "instances=2, dynamic_batching=False, intra_op_threads=1"


def _knobs_exp() -> Any:
    grid = {"instances": [1, 2], "pinning": ["shared", "split"], "intra_op_threads": [1]}
    return parse_experiment(
        {"name": "knobs", "kind": "knobs", "models": [MN, SQ], "sla": "p95=100ms", "knobs": grid}, "test"
    )


def knobs_rows(exp: Any, alone: dict[int, dict[str, float]], together: dict[Any, float]) -> list[TrialRow]:
    """Per instance count, each model alone (a probe at half its λ, then at λ); per setting in `together`,
    the shared server's peak at equal rates."""
    rows: list[TrialRow] = []
    for instances, peaks in alone.items():
        setting = {"instances": instances, "dynamic_batching": False, "intra_op_threads": 1}
        for model, rate in peaks.items():
            where = dedicated(exp, model, setting)
            for offered in (rate / 2, rate):
                rows.append(feasible_row(len(rows) + 1, where, PEAK, {model: offered}, tenant=where.names[0]))
    for setting in knobs.settings_of(exp):
        rate = together.get((setting["instances"], setting["pinning"]))
        if rate is not None:
            rows.append(feasible_row(len(rows) + 1, shared(exp, setting), SHARED_PEAK, {MN: rate, SQ: rate}))
    return rows


def _knobs(together: dict[Any, float] = SHARED, alone: dict[int, dict[str, float]] = ALONE) -> Any:
    exp = _knobs_exp()
    return knobs.analyze(exp, knobs_rows(exp, alone, together), [])


def test_the_knobs_run_saves_against_each_model_at_its_best_not_at_the_same_knobs() -> None:
    found = _knobs()
    assert {m: (a.rps, a.setting) for m, a in found.against.items()} == {
        MN: (309.2, {"instances": 2, "dynamic_batching": False, "intra_op_threads": 1}),
        SQ: (314.9, {"instances": 2, "dynamic_batching": False, "intra_op_threads": 1}),
    }
    best = found.best
    assert best is not None and (best.setting["instances"], best.setting["pinning"]) == (1, "split")
    # Same knobs: 154.9/180.0 + 154.9/187.6 = 1.6862 machines → +40.7%, what the release before printed.
    assert best.same_knobs_saving == pytest.approx(1 - 1 / (154.9 / 180.0 + 154.9 / 187.6))
    assert round(best.same_knobs_saving, 3) == 0.407
    # Best dedicated: 154.9/309.2 + 154.9/314.9 = 0.9929 machines → sharing costs 0.7% more.
    assert best.saving == pytest.approx(1 - 1 / (154.9 / 309.2 + 154.9 / 314.9))
    assert round(best.saving, 3) == -0.007
    for row in found.rows:  # every row against the same dedicated peaks; its own knobs' kept beside
        rates = row.shared_rps
        assert row.saving == pytest.approx(1 - 1 / (rates[MN] / 309.2 + rates[SQ] / 314.9))
        assert row.same_knobs_saving == pytest.approx(
            1 - 1 / sum(rates[m] / row.dedicated_rps[m] for m in (MN, SQ))
        )


def test_the_headline_states_the_best_dedicated_saving_and_names_its_setting() -> None:
    results = sample_results(_knobs(), "knobs")
    line = kinds.headline(results)
    assert line is not None and line.saving == pytest.approx(-0.00718, abs=1e-5)
    assert line.text == (
        "Multi-tenant serving costs 0.7% more with the best setting (instances=1, dynamic_batching=False, "
        f"intra_op_threads=1, pinning=split; not measured again: leans high), against {MN} alone at "
        f"{BEST_ALONE}: 309.2 req/s; "
        f"{SQ} alone at {BEST_ALONE}: 314.9 req/s"
    )
    assert "40.7" not in line.text
    page = render_html(results)
    assert f'<p class="headline bad">{line.text}.</p>' in page


def test_the_knobs_table_shows_both_savings_and_labels_the_same_knob_one() -> None:
    found = _knobs()
    table = knobs_table(found)
    column = {name: i for i, name in enumerate(table.columns)}
    assert "saving" in column and "same knobs: saving" in column
    assert f"same knobs: λ {MN} alone req/s" in column
    (best,) = table.bold
    row = table.rows[best]
    assert row[column["saving"]].text == "-0.7%" and row[column["saving"]].tone == "bad"
    assert row[column["same knobs: saving"]].text == "+40.7%"
    assert row[column[f"same knobs: λ {MN} alone req/s"]].text == "180.0"
    assert f"{MN} alone at {BEST_ALONE}: 309.2 req/s" in table.notes[0].text
    console = Console(width=200, record=True, force_terminal=False)
    render_results(sample_results(found, "knobs"), console)
    text = console.export_text()
    assert "Multi-tenant serving costs 0.7% more" in text and "saves 40.7%" not in text
    # The interval is "-": hand-made rows have no infeasible probe above λ, so no bracket.
    cells = [r"split", r"154\.9", r"154\.9", r"-0\.7%", "-", r"180\.0", r"187\.6", r"\+40\.7%"]
    assert re.search(r"\s+│\s+".join(cells), text)  # the best row as printed


def test_the_best_setting_is_the_one_that_saves_most_against_the_best_dedicated() -> None:
    """With 2 instances split at 160 req/s each, the best same-knob saving (+40.7%, 1 instance split) is no
    longer the best setting: 2 instances split carries the most work, +2.5% against the same peaks."""
    found = _knobs({**SHARED, (2, "split"): 160.0})
    assert found.best is not None
    assert (found.best.setting["instances"], found.best.setting["pinning"]) == (2, "split")
    assert found.best.saving == pytest.approx(1 - 1 / (160 / 309.2 + 160 / 314.9))
    same = {(r.setting["instances"], r.setting["pinning"]): r.same_knobs_saving for r in found.rows}
    assert max(same, key=lambda k: same[k] or -1.0) == (1, "split")


def test_a_dedicated_peak_counts_even_when_its_shared_server_never_ran() -> None:
    found = _knobs({(1, "shared"): 101.2, (1, "split"): 154.9})  # the 2-instance settings stopped early
    assert [r.setting["instances"] for r in found.rows] == [1, 1]
    assert {m: a.rps for m, a in found.against.items()} == {MN: 309.2, SQ: 314.9}
    assert found.best is not None and round(found.best.saving, 3) == -0.007


def test_a_grid_of_one_setting_saves_the_same_either_way() -> None:
    found = _knobs({(1, "split"): 154.9}, {1: ALONE[1]})
    (row,) = found.rows
    assert row.saving == row.same_knobs_saving == pytest.approx(0.40697, abs=1e-5)


def _pair_rows(exp: Any) -> list[TrialRow]:
    rows = []
    for model, rate in {"resnet50": 25.3, MN: 164.8}.items():
        where = dedicated(exp, model)
        rows.append(feasible_row(len(rows) + 1, where, PEAK, {model: rate}, tenant=where.names[0]))
    rows.append(feasible_row(len(rows) + 1, shared(exp), SHARED_PEAK, {"resnet50": 23.4, MN: 23.4}))
    return rows


def test_fig1_and_fig2_name_the_one_dedicated_setting_they_measured() -> None:
    models = [{"model": "resnet50", "instances": 2, "cpus": "0-1"}, MN]
    spec = {"name": "f", "models": models, "frontier": {"fractions": [0.5]}}
    exp = parse_experiment({**spec, "kind": "frontier"}, "test")
    found = frontier.analyze(exp, _pair_rows(exp), [])
    assert found.fig1 is not None and found.fig2 is not None
    against = {m: (a.rps, dict(a.setting)) for m, a in found.fig1.against.items()}
    assert against == {"resnet50": (25.3, {"instances": 2, "cpus": "0-1"}), MN: (164.8, {})}
    assert found.fig2.against == found.fig1.against and found.fig2.peaks == {"resnet50": 25.3, MN: 164.8}
    assert found.fig1.saving == pytest.approx(1 - 1 / (23.4 / 25.3 + 23.4 / 164.8))
    named = (
        "against resnet50 alone at instances=2, cpus=0-1: 25.3 req/s; "
        f"{MN} alone at default knobs: 164.8 req/s"
    )
    line = kinds.headline(sample_results(found, "frontier"))
    assert line is not None and line.text.endswith(
        f"at the best of the measured frontier points (not measured again: leans high), {named}"
    )
    fig1_only = sample_results(fig1.Findings(found.peaks, found.fig1), "dedicated-vs-multitenant")
    line = kinds.headline(fig1_only)
    assert line is not None and line.text.endswith(f"at the shared peak, {named}")
    csv = frontier_csv(found.fig2)
    assert "# λ, the rows with the other model at 0: resnet50 alone at instances=2" in csv
    (table, *_) = kinds.tables(fig1_only)
    assert [row[1].text for row in table.rows[:2]] == ["instances=2, cpus=0-1", "default knobs"]
