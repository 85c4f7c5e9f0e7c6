"""`perseus savings`: hand-computed savings along frontiers, peaks from the file or the command line."""

import json
import os
from pathlib import Path

import pytest

from perseus.config.frontier import Frontier, read_frontier
from perseus.core.errors import ConfigError
from perseus.cost.frontier import dedicated_peaks, frontier_savings
from tests.integration.helpers import assert_one_line_error, cli

WIDE = {**os.environ, "COLUMNS": "200"}  # one line per sentence


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "frontier.csv"
    path.write_text(text)
    return path


def test_hand_computed_savings(tmp_path: Path) -> None:
    frontier = read_frontier(_csv(tmp_path, "resnet50,mobilenet_v2\n25,0\n10,130\n0,170\n"))
    result = frontier_savings(frontier, {})
    assert result.peaks == {"resnet50": 25.0, "mobilenet_v2": 170.0}
    # 10/25 + 130/170 = 0.4 + 0.76470588 = 1.16470588 machines dedicated → 1 − 1/1.16470588
    assert result.points[1][2] == pytest.approx(0.141414, abs=1e-6)
    assert result.points[0][2] == pytest.approx(0.0) and result.points[2][2] == pytest.approx(0.0)
    assert result.max_saving == pytest.approx(0.141414, abs=1e-6)


def test_sharing_that_loses_is_negative() -> None:
    frontier = Frontier(("a", "b"), [(10.0, 0.0), (4.0, 20.0), (0.0, 100.0)])
    result = frontier_savings(frontier, {})
    # 4/10 + 20/100 = 0.6 → 1 − 1/0.6 = −2/3: one shared machine does 0.6 machines' work
    assert result.points[1][2] == pytest.approx(-2 / 3)
    assert result.max_saving == pytest.approx(0.0)


def test_missing_dedicated_point_needs_peak() -> None:
    frontier = Frontier(("a", "b"), [(10.0, 0.0), (5.0, 50.0)])
    with pytest.raises(ConfigError, match=r"no dedicated point for b.*--peak b=REQ_PER_S"):
        dedicated_peaks(frontier, {})
    result = frontier_savings(frontier, {"b": 100.0})
    assert result.points[1][2] == pytest.approx(1 - 1 / (0.5 + 0.5))
    with pytest.raises(ConfigError, match="not in the frontier"):
        dedicated_peaks(frontier, {"c": 1.0})


def test_given_peak_overrides_the_file() -> None:
    frontier = Frontier(("a", "b"), [(10.0, 0.0), (5.0, 50.0), (0.0, 100.0)])
    result = frontier_savings(frontier, {"a": 20.0})
    assert result.peaks == {"a": 20.0, "b": 100.0}
    assert result.peaks_from == {"a": "--peak", "b": "frontier"}


def test_the_output_says_where_each_peak_came_from_and_that_the_saving_depends_on_them(
    tmp_path: Path,
) -> None:
    path = _csv(tmp_path, "a,b\n10,0\n5,50\n0,100\n")
    done = cli(["savings", "--frontier", str(path), "--peak", "a=20"], env=WIDE)
    assert done.returncode == 0, done.stderr
    assert "λ_a = 20.00 req/s (--peak), λ_b = 100.00 req/s (the file's best row with a at 0)" in done.stdout
    assert "a saving is only as good as these peaks: each should be the model's λ alone at its best" in (
        done.stdout
    )
    help_text = cli(["savings", "--help"], env=WIDE).stdout
    assert "only as good as the dedicated peaks" in " ".join(help_text.split())


def test_quadratic_fit_finds_the_analytic_maximum() -> None:
    # r_B = 100 − r_A²; λ_A = 10, λ_B = 100: Σ r/λ = 1 + x/10 − x²/100, largest at x = 5 (1.25)
    points = [(float(x), 100.0 - x * x) for x in range(11)]
    result = frontier_savings(Frontier(("a", "b"), points), {}, fit="quadratic")
    assert result.fit_max_saving == pytest.approx(0.2, abs=1e-9)
    assert result.fit_at == pytest.approx((5.0, 75.0))
    with pytest.raises(ConfigError, match="3 distinct"):
        frontier_savings(Frontier(("a", "b"), points[:2]), {"a": 10, "b": 100}, fit="quadratic")
    with pytest.raises(ConfigError, match="quadratic"):
        frontier_savings(Frontier(("a", "b"), points), {}, fit="cubic")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a\n1\n", "exactly two models"),
        ("a,a\n1,0\n", "two different models"),
        ("a,b\n", "no rows"),
        ("a,b\n1,x\n", "frontier.csv:2: expected two rates"),
        ("a,b\n-1,3\n", "≥ 0"),
        ("a,b\n0,0\n", "both rates are 0"),
    ],
)
def test_bad_frontier_files(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        read_frontier(_csv(tmp_path, text))


def test_cli_json_and_errors(tmp_path: Path) -> None:
    path = _csv(tmp_path, "# measured by hand\nresnet50,mobilenet_v2\n25,0\n10,130\n0,170\n")
    done = cli(["savings", "--frontier", str(path), "--json"])
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["peaks"] == {"resnet50": 25.0, "mobilenet_v2": 170.0}
    assert data["peaks_from"] == {"resnet50": "frontier", "mobilenet_v2": "frontier"}
    assert "only as good as these peaks" in data["caveat"] and "best dedicated setting" in data["caveat"]
    assert data["points"][1] == {
        "resnet50": 10.0,
        "mobilenet_v2": 130.0,
        "saving": pytest.approx(0.141414, abs=1e-6),
    }
    assert data["max_saving"] == pytest.approx(0.141414, abs=1e-6) and "fit_max_saving" not in data
    no_peak = _csv(tmp_path, "a,b\n10,0\n5,50\n")
    assert_one_line_error(cli(["savings", "--frontier", str(no_peak)]), "no dedicated point for b")
    assert_one_line_error(cli(["savings", "--frontier", str(path), "--peak", "a=x"]), "--peak 'a=x'")
    assert_one_line_error(cli(["savings", "--frontier", str(tmp_path / "none.csv")]), "cannot read frontier")
