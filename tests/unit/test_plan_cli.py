"""`perseus plan` end to end over a profile measured on a model of a server (fake_server): the plan file
read, the profile run found by name, the plan printed as tables or one JSON object, bad input one line."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from perseus.cli.app import app
from perseus.config.plan import load_plan
from perseus.core.errors import PerseusError
from perseus.experiments.registry import parse_experiment
from perseus.store import Store
from tests.unit.fake_server import run_on
from tests.unit.test_kinds import CPU, CPU2, FAST, QUICK


def _plan(tmp_path: Path, **fields: object) -> Path:
    data = {
        "name": "fleet",
        "profiles": ["fake profile"],
        "tenants": [
            {"model": "synthetic-sleep", "rate": 20, "sla": "p95=100ms"},
            {"model": "synthetic-cpu", "rate": 100, "sla": "p95=200ms"},
            {"model": "synthetic-cpu-2", "rate": 60, "sla": "p95=100ms"},
            {"name": "big", "model": "synthetic-sleep", "rate": 150, "sla": "p95=100ms"},
        ],
        **fields,
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _invoke(profiled: Path, *args: str) -> tuple[int, str]:
    """The exit code and output; a PerseusError (which `perseus` prints as one line) as its message."""
    result = CliRunner().invoke(app, ["plan", *args, "--db", str(profiled)], env={"COLUMNS": "200"})
    if isinstance(result.exception, PerseusError):
        return 2, str(result.exception)
    return result.exit_code, result.output


def test_plan_prints_json_with_the_totals_and_machines(tmp_path: Path, profiled: Path) -> None:
    code, out = _invoke(profiled, str(_plan(tmp_path)), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert {"usd_per_h", "dedicated_usd_per_h", "saving", "lower_bound_usd_per_h", "machines"} <= set(data)
    assert data["lower_bound_usd_per_h"] <= data["usd_per_h"] <= data["dedicated_usd_per_h"]
    # λ alone (test_kinds): synthetic-sleep 74.375, the CPU-bound two 462.5 req/s. One model per machine:
    # the sleeper's 20 + 150 req/s on ⌈170/74.375⌉ = 3 machines, each CPU-bound one on 1: 5. The plan: the
    # sleeper's two full machines (74.375 + 70.625 of big) and a third with the rest (5 of big, 20 of its
    # other tenant) beside both CPU-bound models: 3. At $0.097118/h each: saving 1 − 3/5 = 0.4.
    assert len(data["machines"]) == 3 and len(data["dedicated"]["machines"]) == 5
    assert data["usd_per_h"] == pytest.approx(3 * 0.097118)
    assert data["dedicated_usd_per_h"] == pytest.approx(5 * 0.097118)
    assert data["saving"] == pytest.approx(0.4)
    served: dict[str, float] = {}
    for m in data["machines"]:
        assert m["type"] == "gcp-n2-standard-2" and m["predicted_load"] <= 1 + 1e-6
        for name, rate in m["tenants"].items():
            served[name] = served.get(name, 0) + rate
    assert served == pytest.approx(
        {"synthetic-sleep-1": 20, "synthetic-cpu-1": 100, "synthetic-cpu-2-1": 60, "big": 150}
    )
    assert data["prediction"]["sets"][0]["models"] == ["synthetic-cpu", "synthetic-cpu-2", "synthetic-sleep"]


def test_plan_prints_tables(tmp_path: Path, profiled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSEUS_HOME", str(tmp_path))
    code, out = _invoke(profiled, str(_plan(tmp_path)))
    assert code == 0, out
    assert "the machines to rent" in out and "LP lower bound" in out
    assert "one model per" in out and "baseline" in out  # its row; cells wrap on a narrow console
    assert "each tenant on" in out and "looser" in out
    assert (tmp_path / "reports" / "plan-fleet" / "plan.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        ({"profiles": ["nothing"]}, "no profile run named 'nothing'"),
        ({"profiles": [999]}, "run 999 is not in"),
        ({"tenants": [{"model": "resnet50", "rate": 1, "sla": "p95=100ms"}]}, "no profile of model resnet50"),
        ({"tenants": [{"model": "synthetic-cpu", "rate": 1, "sla": "p95=5ms"}]}, "stricter than"),
        ({"machines": ["gcp-n2-standard-4"]}, "none of gcp-n2-standard-4 has a profile"),
        ({"machines": ["nope"]}, "machine 'nope'"),
        ({"tenants": [{"model": "synthetic-cpu", "rate": -1, "sla": "p95=5ms"}]}, "tenants.0.rate"),
    ],
)
def test_bad_plans_are_one_line(tmp_path: Path, profiled: Path, fields: dict[str, object], line: str) -> None:
    code, out = _invoke(profiled, str(_plan(tmp_path, **fields)), "--json")
    assert code != 0
    assert line in out and "\n" not in out.strip(), out


def test_extrapolated_types_are_flagged(tmp_path: Path, profiled: Path) -> None:
    path = _plan(tmp_path, machines=["gcp-n2-standard-2", "gcp-n2-standard-8"])
    code, out = _invoke(profiled, str(path), "--json", "--extrapolate", "cores")
    assert code == 0, out
    data = json.loads(out)
    assert any("extrapolated" in n for n in data["notes"])
    for m in data["machines"]:
        assert (m["type"] == "gcp-n2-standard-8") == any("extrapolated" in f for f in m["flags"])


def test_a_frontier_run_counts_as_a_profile_of_its_pair(tmp_path: Path) -> None:
    db = tmp_path / "frontier.db"
    exp = parse_experiment(
        {
            "name": "fig2",
            "kind": "frontier",
            "models": [FAST, CPU],
            **QUICK,
            "frontier": {"fractions": [0.5]},
        },
        "test",
    )
    with Store(db) as store:
        run_id, _ = run_on(store, exp)
    tenants = [
        {"model": "synthetic-sleep", "rate": 20, "sla": "p95=100ms"},
        {"model": "synthetic-cpu", "rate": 100, "sla": "p95=100ms"},
    ]
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({"name": "f", "profiles": [run_id], "tenants": tenants}))
    code, out = _invoke(db, str(path), "--json")
    assert code == 2 and "say which machine type it ran on" in out
    path.write_text(
        yaml.safe_dump(
            {"name": "f", "profiles": [{"run": run_id, "machine": "gcp-n2-standard-2"}], "tenants": tenants}
        )
    )
    code, out = _invoke(db, str(path), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert len(data["machines"]) == 1 and data["saving"] == pytest.approx(0.5)  # two tenants, one machine


def test_the_shipped_fleet_plans_read_and_name_shipped_profiles() -> None:
    root = Path(__file__).parents[2]
    plan = load_plan(root / "plans" / "fleet-6cnn.yaml")
    assert plan.profiles == ("profile of 6 zoo CNNs",) and len(plan.tenants) == 12
    repeated = load_plan(root / "plans" / "fleet-6cnn-repeats.yaml")
    assert repeated.tenants == plan.tenants and len(repeated.profiles) == 3
    shipped = {
        parse_experiment(yaml.safe_load(f.read_text()), f.name).name
        for f in (root / "experiments").glob("profile*.yaml")
    }
    assert set(repeated.profiles) <= shipped
    for path in (root / "plans").glob("*.yaml"):  # every shipped plan names profiles a shipped file measures
        assert set(load_plan(path).profiles) <= shipped, path.name


def test_a_profile_named_twice_is_measured_again_with_no_spread(tmp_path: Path, profiled: Path) -> None:
    """The same run twice: its λ and capacities merge unchanged, and each co-location, measured again,
    repeats exactly (the plumbing of merging, not a claim about the host)."""
    once = json.loads(_invoke(profiled, str(_plan(tmp_path)), "--json")[1])
    code, out = _invoke(profiled, str(_plan(tmp_path, profiles=["fake profile", "fake profile"])), "--json")
    assert code == 0, out
    twice = json.loads(out)
    assert twice["usd_per_h"] == pytest.approx(once["usd_per_h"])
    assert (
        once["prediction"]["measured_again"] == []
        and once["prediction"]["measured_again_median_error"] is None
    )
    again = twice["prediction"]["measured_again"]
    assert len(again) == 2 * (3 + 1) and all(c["measured"] == pytest.approx(c["predicted"]) for c in again)
    assert twice["prediction"]["measured_again_median_error"] == pytest.approx(0.0)


def test_two_specs_of_one_family_keep_their_names_through_profile_and_plan(tmp_path: Path) -> None:
    """One synthetic-cpu named by the user, the other by its spec's base: the profile's sets, the plan's
    tenants and every table take the name or the spec as written, and mean the same model."""
    db = tmp_path / "results.db"
    exp = parse_experiment(
        {
            "name": "named profile",
            "kind": "profile",
            "models": [FAST, {"name": "small", "model": CPU2}, CPU],
            **QUICK,
            "profile": {"machine": "gcp-n2-standard-2", "sets": [[FAST, "small", CPU]]},
        },
        "test",
    )
    assert exp.model_keys() == ["synthetic-sleep", "small", "synthetic-cpu"]
    with Store(db) as store:
        run_id, _ = run_on(store, exp)
        assert "name" not in store.run(run_id).spec["models"][0]  # unnamed: the spec as before names
    tenants = [
        {"name": "by-name", "model": "small", "rate": 60, "sla": "p95=100ms"},
        {"name": "by-spec", "model": CPU, "rate": 50, "sla": "p95=100ms"},
        {"name": "by-spec-too", "model": CPU2, "rate": 10, "sla": "p95=100ms"},
    ]
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"name": "named", "profiles": ["named profile"], "tenants": tenants}))
    code, out = _invoke(db, str(plan), "--json")
    assert code == 0, out
    data = json.loads(out)
    models = {m for machine in data["machines"] for m in machine["models"]}
    assert models <= {"small", "synthetic-cpu"} and "small" in models
    assert {t for machine in data["machines"] for t in machine["tenants"]} == {
        "by-name",
        "by-spec",
        "by-spec-too",
    }
    assert [c["models"] for c in data["prediction"]["sets"]] == [
        ["small", "synthetic-cpu", "synthetic-sleep"]
    ]
