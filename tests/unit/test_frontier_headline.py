"""The frontier's headline when sharing loses at every measured point: hand-made stored rows (each model
alone at λ = 100 req/s, every shared point below the dedicated line), read by the real analysis and
drawn by the real report. It must say sharing lost everywhere, with the confirmation's figure, never
"saves 0.0%" as if the dedicated axis end (a saving of exactly 0 by definition) were a saving found."""

import pytest

from perseus.experiments import frontier
from perseus.experiments.frontier import AT_SHARE, CONFIRM, FRONTIER, confirming
from perseus.experiments.placements import PEAK, SHARED_PEAK, dedicated, shared
from perseus.experiments.registry import parse_experiment
from perseus.report.kinds import frontier as drawing
from perseus.store import TrialRow
from tests.unit.trial_rows import feasible_row

A, B = "synthetic-sleep", "synthetic-cpu"


def _exp() -> frontier.Settings:
    exp = parse_experiment(
        {
            "name": "f",
            "kind": "frontier",
            "models": [A, B],
            "sla": "p95=100ms",
            "frontier": {"fractions": [0.5]},
        },
        "test",
    )
    assert isinstance(exp, frontier.Settings)
    return exp


def _rows(exp: frontier.Settings, confirmed: bool = True, measured: bool = True) -> list[TrialRow]:
    """λ_A = λ_B = 100 req/s alone; shared: 40 + 40 at equal share (Σ r/λ = 0.8), B at 20 beside A held
    at 50 (0.5 + 0.2 = 0.7); the least losing point (the shared peak) searched again: 38 + 38 (0.76)."""
    rows = []
    for i, model in enumerate((A, B), start=1):
        where = dedicated(exp, model)
        (name,) = where.names
        rows.append(feasible_row(i, where, PEAK, {model: 100.0}, tenant=name))
    if measured:
        rows.append(feasible_row(3, shared(exp), SHARED_PEAK, {A: 40.0, B: 40.0}))
        rows.append(feasible_row(4, shared(exp), FRONTIER, {A: 50.0, B: 20.0}, fraction=0.5))
    if confirmed:
        rows.append(feasible_row(5, confirming(exp), CONFIRM, {A: 38.0, B: 38.0}, along=AT_SHARE))
    return rows


def _found(rows: list[TrialRow]) -> tuple[frontier.Findings, list[str]]:
    warnings: list[str] = []
    found = frontier.analyze(_exp(), rows, warnings)
    assert isinstance(found, frontier.Findings)
    return found, warnings


def test_every_point_losing_chooses_the_least_losing_and_reports_its_confirmation() -> None:
    found, _ = _found(_rows(_exp()))
    fig2 = found.fig2
    assert fig2 is not None
    # Savings 1 − 1/Σ: shared peak 1 − 1/0.8 = −0.25; A at 50%: 1 − 1/0.7 = −0.428571...
    savings = {p.direction: p.saving for p in fig2.points if p.source != "dedicated"}
    assert savings == pytest.approx({AT_SHARE: -0.25, 0.5: -3 / 7})
    assert fig2.best.direction == AT_SHARE and fig2.best.saving == pytest.approx(-0.25)
    assert fig2.confirmed is not None and fig2.confirmed.direction == AT_SHARE
    assert fig2.max_saving == pytest.approx(1 - 1 / 0.76)  # −0.315789...: the confirmation's

    line = drawing.headline(found)
    assert line is not None
    assert "saves" not in line.text and "0.0%" not in line.text
    assert line.text.startswith("Multi-tenant serving costs 31.6% more")  # the confirmation: 1/0.76 − 1
    assert "lost at every measured point" in line.text
    assert "-25.0% when chosen" in line.text  # the point chosen, before it was searched again
    assert line.saving == pytest.approx(1 - 1 / 0.76)


def test_an_unconfirmed_loss_is_said_as_a_loss_everywhere_too() -> None:
    found, warnings = _found(_rows(_exp(), confirmed=False))
    line = drawing.headline(found)
    assert line is not None
    assert line.text.startswith("Multi-tenant serving costs 25.0% more")  # 1/0.8 − 1, leaning high
    assert "lost at every measured point" in line.text and "saves" not in line.text
    assert any("leans high" in w for w in warnings)


def test_no_feasible_shared_point_is_not_a_saving_of_zero() -> None:
    """Nothing shared was feasible: the only points are the axis ends (each model alone, saving 0 by
    definition). No headline states a saving, and the table's note does not call an axis end chosen."""
    found, _ = _found(_rows(_exp(), confirmed=False, measured=False))
    fig2 = found.fig2
    assert fig2 is not None and {p.source for p in fig2.points} == {"dedicated"}
    assert drawing.headline(found) is None  # no Fig 1 either: nothing shared to state a saving of
    note = " ".join(c.text for c in drawing.fig2_table(fig2).notes)
    assert "No shared point met every SLA" in note and "0.0%" not in note
