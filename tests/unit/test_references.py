"""Every reference of an experiment is resolved before anything is measured: a bad model, machine, catalog,
CPU, knob or batch size is one line naming the value, where it is and the valid ones ("did you mean …"),
and `perseus run` stops there — no run stored, no trial, no server."""

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper

from perseus.config.serving import format_cpuset
from perseus.core.errors import ConfigError, ModelError, PerseusError
from perseus.core.names import did_you_mean, unknown
from perseus.core.progress import NullReporter
from perseus.experiments.references import Source, check_experiment
from perseus.experiments.registry import load_experiment, parse_experiment
from perseus.models import add_model
from perseus.models.cache import ONNX_FILE, entry_dir
from perseus.orchestrate.runner import run_experiment
from perseus.store import Store
from tests.integration.helpers import assert_one_line_error, cli, our_server_processes
from tests.unit.fake_server import run_on

SLEEP = "synthetic-sleep:service_ms=5"
FIG1: dict[str, Any] = {
    "name": "t",
    "kind": "dedicated-vs-multitenant",
    "models": [SLEEP, "synthetic-cpu:dim=64"],
    "sla": "p95=100ms",
}
HERE = Source("exp.yaml")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERSEUS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _check(**fields: Any) -> None:
    check_experiment(parse_experiment({**FIG1, **fields}, "exp.yaml"), HERE)


def _problem(**fields: Any) -> str:
    with pytest.raises(PerseusError) as caught:
        _check(**fields)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_did_you_mean_only_when_close() -> None:
    assert did_you_mean("gcp-n2-standad-2", ["aws-c7i.large", "gcp-n2-standard-2"]) == (
        " (did you mean 'gcp-n2-standard-2'?)"
    )
    assert did_you_mean("zzz", ["aws-c7i.large", "gcp-n2-standard-2"]) == ""
    assert unknown("model", "x", []) == "unknown model 'x'; known: (none)"


def test_a_good_experiment_passes() -> None:
    _check()
    _check(price={"machines": ["gcp-n2-standard-2", "aws-c7i.large"]})
    check_experiment(parse_experiment({**FIG1, "kind": "peak", "models": [SLEEP]}, "x"), HERE)


def test_bad_machine_id_names_the_key_and_the_closest_id() -> None:
    message = _problem(price={"machines": ["aws-c7i.large", "gcp-n2-standad-2"]})
    assert message.startswith(
        "exp.yaml: price.machines.1: unknown machine 'gcp-n2-standad-2' (did you mean 'gcp-n2-standard-2'?); "
        "the price catalog has: gcp-n2-standard-2, "
    )
    assert "azure-d2s-v5" in message  # every valid id is listed
    far = _problem(price={"machines": ["my-laptop"]})
    assert "did you mean" not in far and "unknown machine 'my-laptop'" in far


def test_unknown_model_names_the_entry_and_the_closest_model() -> None:
    with pytest.raises(ModelError) as caught:
        _check(models=[SLEEP, "mobilenet_v3"])
    assert str(caught.value).startswith(
        "exp.yaml: models.1: unknown model 'mobilenet_v3' (did you mean 'mobilenet_v2'?); known: resnet50, "
    )
    assert "models.0: option 'ms' in model spec" in _problem(models=["synthetic-sleep:ms", SLEEP])


def test_an_added_model_whose_copy_is_gone(tmp_path: Path) -> None:
    add_model("tiny", _onnx(tmp_path / "tiny.onnx", ["n", 4]))
    _check(models=["tiny", SLEEP])
    (entry_dir("tiny") / ONNX_FILE).unlink()
    message = _problem(models=["tiny", SLEEP])
    assert message.startswith(f"exp.yaml: models.0: model 'tiny' was added from {tmp_path / 'tiny.onnx'}")
    assert "is missing; add it again with `perseus models add tiny FILE --force`" in message


def test_missing_or_bad_catalog_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    assert _problem(price={"catalog": str(missing)}) == (
        f"exp.yaml: price.catalog: cannot read {missing}: No such file or directory"
    )
    bad = tmp_path / "prices.yaml"
    bad.write_text("machines: []\n")
    assert _problem(price={"catalog": str(bad)}).startswith(f"exp.yaml: price.catalog: {bad}: machines:")
    bad.write_text(yaml.safe_dump({"machines": [catalog_machine("box")]}))
    _check(price={"catalog": str(bad), "machines": ["box"]})
    assert f"the price catalog {bad} has: box" in _problem(price={"catalog": str(bad), "machines": ["bx"]})


def test_pinned_cpus_must_exist_here() -> None:
    beyond = max(os.sched_getaffinity(0)) + 1
    message = _problem(models=[{"model": SLEEP, "cpus": f"0,{beyond}-{beyond + 1}"}, SLEEP])
    usable = sorted(os.sched_getaffinity(0))
    assert message == (
        f"exp.yaml: models.0.cpus: CPUs {beyond}-{beyond + 1} of {SLEEP} cannot be used on this host "
        f"(usable: {format_cpuset(usable)})"
    )
    _check(models=[{"model": SLEEP, "cpus": str(usable[0])}, SLEEP])


def test_bad_knob_values_are_refused_when_read(tmp_path: Path) -> None:
    path = tmp_path / "knobs.yaml"
    for grid, needle in (
        ("{instances: [1, 0]}", "knobs.instances.1: Input should be greater than or equal to 1"),
        ("{instances: [65]}", "knobs.instances.0: Input should be less than or equal to 64"),
        ("{intra_op_threads: [-1]}", "knobs.intra_op_threads.0: Input should be greater than or equal to 0"),
        ("{pinning: []}", "knobs.pinning: Tuple should have at least 1 item"),
        ("{pinning: [splt]}", "knobs.pinning.0: Input should be 'shared' or 'split'"),
    ):
        path.write_text(f"name: k\nkind: knobs\nmodels: [a, b]\nknobs: {grid}\n")
        with pytest.raises(ConfigError) as caught:
            load_experiment(path)
        assert str(caught.value).startswith(f"{path}: {needle}")


def test_sla_and_share_name_models_of_the_experiment() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_experiment({**FIG1, "sla": {"synthetic-sleep": "p95=1s", "synthetic-cpx": "p95=1s"}}, "exp.yml")
    assert str(caught.value) == (
        "exp.yml: sla: unknown model 'synthetic-cpx' (did you mean 'synthetic-cpu'?); "
        "the experiment has: synthetic-sleep, synthetic-cpu"
    )
    with pytest.raises(ConfigError, match=r"^exp.yaml: share: unknown model 'synthetic-slep' \(did you mean"):
        parse_experiment({**FIG1, "share": {"synthetic-slep": 2}}, "exp.yaml")


def test_a_kind_that_prices_nothing_refuses_a_price_section() -> None:
    for kind in ("peak", "qos-sweep", "interference", "knobs"):
        exp = parse_experiment({**FIG1, "kind": kind, "price": {"machines": ["gcp-n2-standad-2"]}}, "x")
        with pytest.raises(ConfigError) as caught:
            check_experiment(exp, HERE)
        assert str(caught.value) == (
            f"exp.yaml: price: kind {kind} prices nothing (kinds that do: dedicated-vs-multitenant, "
            "frontier, profile); remove the section"
        )
        check_experiment(parse_experiment({**FIG1, "kind": kind}, "x"), HERE)  # the default is no request


def test_flags_are_named_instead_of_keys() -> None:
    flags = Source("perseus demo", {"price.machines": "--machine", "models": "--models"})
    exp = parse_experiment({**FIG1, "models": [SLEEP, "resnet5"], "price": {"machines": ["x"]}}, "demo")
    with pytest.raises(ModelError, match=r"^--models: unknown model 'resnet5' \(did you mean 'resnet50'\?\)"):
        check_experiment(exp, flags)
    exp = parse_experiment({**FIG1, "price": {"machines": ["gcp-n2-standard-2", "aws-c7i.larg"]}}, "demo")
    with pytest.raises(ConfigError, match=r"^--machine: unknown machine 'aws-c7i.larg' \(did you mean"):
        check_experiment(exp, flags)


def test_batch_sizes_the_models_take(tmp_path: Path) -> None:
    store = Store(tmp_path / "results.db")
    with pytest.raises(ConfigError, match=r"^exp.yaml: load.batch: 16 exceeds max_batch_size 8 of "):
        _run(store, load={"batch": 16})
    add_model("fixed", _onnx(tmp_path / "fixed.onnx", [1, 4]))
    fixed = re.escape("fixed (models.0) has a fixed input shape [1, 4]")
    with pytest.raises(ConfigError, match=rf"^exp.yaml: load.batch: 2: {fixed}; the batch must be 1$"):
        _run(store, models=["fixed", SLEEP], load={"batch": 2})
    with pytest.raises(ConfigError, match=rf"^exp.yaml: models.0.dynamic_batching: {fixed}; dyn"):
        _run(store, models=[{"model": "fixed", "dynamic_batching": True}, SLEEP])
    with pytest.raises(ConfigError, match=r"^exp.yaml: knobs.dynamic_batching: fixed \(models.0\) has a"):
        _run(store, kind="knobs", models=["fixed", SLEEP], knobs={"dynamic_batching": [False, True]})
    assert store.runs() == []


def test_a_file_of_inputs_every_model_takes(tmp_path: Path) -> None:
    missing = tmp_path / "in.npz"
    assert _problem(inputs=f"file:{missing}").startswith(
        f"exp.yaml: inputs: input data file {missing}: cannot"
    )
    add_model("tiny", _onnx(tmp_path / "tiny.onnx", ["n", 4]))
    store = Store(tmp_path / "results.db")
    np.savez(missing, x=np.zeros((1, 4), np.float32))
    with pytest.raises(ConfigError) as caught:  # the sleeping model's input is `input`, not `x`
        _run(store, models=["tiny", SLEEP], inputs=f"file:{missing}")
    assert str(caught.value).startswith(
        f"exp.yaml: inputs: {SLEEP} (models.1): input data file {missing}: 'x' is not an input"
    )
    np.savez(missing, x=np.zeros((1, 4), np.float64))
    with pytest.raises(ConfigError, match=r"^exp.yaml: inputs: tiny \(models.0\): .* is float64 there"):
        _run(store, models=["tiny", SLEEP], inputs=f"file:{missing}")
    assert store.runs() == []


def test_run_experiment_resolves_everything_before_it_records(tmp_path: Path) -> None:
    store = Store(tmp_path / "results.db")
    with pytest.raises(ConfigError, match=r"price\.machines\.0: unknown machine"):
        _run(store, price={"machines": ["gcp-n2-standad-2"]})
    with pytest.raises(ModelError, match=r"models\.1: unknown model"):
        _run(store, models=[SLEEP, "resnet5O"])
    assert store.runs() == []


def test_cli_run_with_a_typo_stores_nothing_and_starts_no_server(tmp_path: Path) -> None:
    """The typo of the issue: measured for an hour, stored as done, then unreportable for ever."""
    home = tmp_path / "cli-home"
    db = tmp_path / "results.db"
    store = Store(db)
    earlier, _ = run_on(store, parse_experiment({**FIG1, "kind": "peak", "models": [SLEEP]}, "x"))
    trials = len(store.trials(earlier))
    store.close()
    path = tmp_path / "fig1.yaml"
    path.write_text(yaml.safe_dump({**FIG1, "price": {"machines": ["gcp-n2-standad-2"]}}))
    env = {**os.environ, "PERSEUS_HOME": str(home)}
    result = cli(["run", str(path), "--db", str(db)], timeout=60, env=env)
    assert_one_line_error(
        result,
        f"{path}: price.machines.0: unknown machine 'gcp-n2-standad-2' (did you mean 'gcp-n2-standard-2'?)",
    )
    assert result.returncode == ConfigError.exit_code
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)
        assert conn.execute("SELECT COUNT(*) FROM trials").fetchone() == (trials,)
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())  # no server folder
    assert our_server_processes(home) == []


def test_cli_demo_names_the_flag(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    env = {**os.environ, "PERSEUS_HOME": str(tmp_path / "cli-home")}
    pair = ["--models", f"{SLEEP},synthetic-cpu:dim=64", "--db", str(db)]
    result = cli(["demo", *pair, "--machine", "gcp-n2-standad-2"], timeout=60, env=env)
    assert_one_line_error(
        result, "--machine: unknown machine 'gcp-n2-standad-2' (did you mean 'gcp-n2-standard-2'?)"
    )
    result = cli(["demo", *pair[2:], "--models", "resnet50,mobilenetv2"], timeout=60, env=env)
    assert_one_line_error(result, "--models: unknown model 'mobilenetv2' (did you mean 'mobilenet_v2'?)")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)


def _run(store: Store, **fields: Any) -> int:
    return run_experiment(parse_experiment({**FIG1, **fields}, "x"), store, NullReporter(), source=HERE)


def _onnx(path: Path, shape: list[Any]) -> Path:
    """x → MatMul [4, 2] → y, with the batch dimension as given (a name: dynamic; 1: fixed)."""
    weight = numpy_helper.from_array(np.ones((4, 2), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [shape[0], 2])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def catalog_machine(machine_id: str, usd_per_h: float = 0.1) -> dict[str, Any]:
    return {
        "id": machine_id,
        "provider": "acme",
        "name": machine_id,
        "region": "here",
        "usd_per_h": usd_per_h,
        "vcpus": 2,
        "memory_gib": 8,
        "source": "https://example.com/pricing",
        "as_of": "2024-06-01",
    }
