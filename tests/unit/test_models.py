"""Fast tests of perseus.models: synthetic models, resolve errors, BYO, cache reuse (no torch)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from perseus.core.errors import ModelError
from perseus.core.paths import models_dir
from perseus.models import (
    ModelInfo,
    add_model,
    export_models,
    list_models,
    load_onnx_input,
    resolve_model,
    zoo,
)
from perseus.models.cache import read_cached
from perseus.models.export import CnnEntry
from perseus.models.spec import WEIGHTS_RANDOM, WEIGHTS_USER
from tests.integration.helpers import assert_one_line_error, cli


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERSEUS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _run(info: ModelInfo, batch: int) -> npt.NDArray[Any]:
    assert info.path is not None
    session = ort.InferenceSession(info.path, providers=["CPUExecutionProvider"])
    result: npt.NDArray[Any] = session.run(None, load_onnx_input(info, batch, seed=1))[0]
    return result


def _tiny_model(path: Path, in_name: str = "x") -> Path:
    """[N, 4] float → MatMul [4, 2] → Relu → [N, 2]."""
    weight = numpy_helper.from_array(np.arange(8, dtype=np.float32).reshape(4, 2), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", [in_name, "w"], ["mm"]), helper.make_node("Relu", ["mm"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


# --- synthetic models -------------------------------------------------------------------------------


def test_synthetic_cpu_builds_and_runs() -> None:
    info = resolve_model("synthetic-cpu:layers=3:dim=16")
    assert info.name == "synthetic-cpu:dim=16:layers=3"  # canonical: sorted keys
    assert info.kind == "onnx" and info.base == "synthetic-cpu"
    assert info.options == {"dim": "16", "layers": "3"}
    assert info.path is not None and Path(info.path).parent.name == "synthetic-cpu_dim16_layers3"
    assert info.params == 16 * 16 * 3
    assert info.flops == 2 * 16 * 16 * 3
    assert info.batch_dynamic
    assert [t.shape for t in info.inputs] == [(-1, 16)]
    onnx.checker.check_model(info.path)
    assert onnx.load(info.path).opset_import[0].version == 17
    for batch in (1, 4):
        out = _run(info, batch)
        assert out.shape == (batch, 16) and out.dtype == np.float32
        assert np.all(np.abs(out) <= 1.0) and np.all(np.isfinite(out))


def test_synthetic_cpu_weights_are_reproducible(home: Path) -> None:
    first = resolve_model("synthetic-cpu:dim=8:layers=2")
    assert first.path is not None
    data = Path(first.path).read_bytes()
    for child in models_dir().iterdir():
        (child / "model.json").unlink()
    assert Path(resolve_model("synthetic-cpu:dim=8:layers=2").path or "").read_bytes() == data


def test_synthetic_cpu_defaults_are_canonical() -> None:
    from perseus.models.synthetic import cpu_options

    assert cpu_options({}) == {"dim": "1024", "layers": "10"}
    assert cpu_options({"dim": "0064"}) == {"dim": "64", "layers": "10"}


@pytest.mark.parametrize(
    ("spec", "name", "service"),
    [
        ("synthetic-sleep", "synthetic-sleep:service_ms=10", "10"),
        ("synthetic-sleep:service_ms=20.0", "synthetic-sleep:service_ms=20", "20"),
        ("synthetic-sleep:service_ms=2.5", "synthetic-sleep:service_ms=2.5", "2.5"),
        (" synthetic-sleep : service_ms = .5 ", "synthetic-sleep:service_ms=0.5", "0.5"),
    ],
)
def test_synthetic_sleep(spec: str, name: str, service: str) -> None:
    info = resolve_model(spec)
    assert info.name == name and info.options == {"service_ms": service}
    assert info.kind == "sleep" and info.path is None
    assert info.inputs[0].shape == (-1, 1) and info.outputs[0].shape == (-1, 1)
    assert info.batch_dynamic and info.params == 0 and info.flops == 0
    assert load_onnx_input(info, 5, seed=0)["input"].shape == (5, 1)


# --- resolve errors ---------------------------------------------------------------------------------


def test_unknown_model_lists_known_names() -> None:
    with pytest.raises(ModelError, match=r"^unknown model 'foo'; known: resnet50, .*synthetic-sleep"):
        resolve_model("foo")


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("", "no model name"),
        (":dim=3", "no model name"),
        ("synthetic-cpu:dim", "'dim'"),
        ("synthetic-cpu:dim=", "'dim='"),
        ("synthetic-cpu:=3", "'=3'"),
        ("synthetic-cpu:dim=4:dim=8", "given twice"),
        ("synthetic-cpu:depth=3", "'depth'"),
        ("synthetic-cpu:dim=0", "dim='0'"),
        ("synthetic-cpu:dim=-4", "dim='-4'"),
        ("synthetic-cpu:dim=1e3", "dim='1e3'"),
        ("synthetic-cpu:layers=many", "layers='many'"),
        ("synthetic-cpu:dim=8192:layers=8", "1 GiB"),
        ("synthetic-sleep:service_ms=0", "service_ms='0'"),
        ("synthetic-sleep:service_ms=-5", "service_ms='-5'"),
        ("synthetic-sleep:service_ms=nan", "service_ms='nan'"),
        ("synthetic-sleep:service_ms=inf", "service_ms='inf'"),
        ("synthetic-sleep:ms=5", "'ms'"),
        ("resnet50:batch=4", "takes no options"),
    ],
)
def test_bad_specs_name_the_problem(spec: str, needle: str) -> None:
    with pytest.raises(ModelError) as caught:
        resolve_model(spec)
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)


def test_export_models_checks_all_names_before_exporting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zoo, "export_cnn", _fail_export)
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        export_models(["squeezenet1_1", "nope"])


# --- CNN cache: export on demand, reuse, atomicity (torch replaced by a fake writer) -----------------


def _fail_export(entry: object, dest: Path) -> None:
    raise AssertionError("must not export")


def _fake_export(calls: list[str]) -> object:
    def export(entry: CnnEntry, dest: Path) -> None:
        calls.append(entry.name)
        _tiny_model(dest, in_name="input")

    return export


def test_cnn_not_exported_and_export_missing_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zoo, "export_cnn", _fail_export)
    statuses: list[str] = []
    with pytest.raises(ModelError, match="'squeezenet1_1' is not exported yet"):
        resolve_model("squeezenet1_1", export_missing=False, on_status=statuses.append)
    assert statuses == []


def test_cnn_exported_once_then_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(zoo, "export_cnn", _fake_export(calls))
    statuses: list[str] = []
    info = resolve_model("squeezenet1_1", on_status=statuses.append)
    assert statuses == ["exporting squeezenet1_1 (first use, ~2 s)"]
    assert info.weights == WEIGHTS_RANDOM and info.source.startswith("pytorchcv ")
    assert info.params == 8 and info.flops == 2 * 1 * 2 * 4
    assert calls == ["squeezenet1_1"]
    assert info.path is not None
    mtime = os.stat(info.path).st_mtime_ns
    again = export_models(["squeezenet1_1", "synthetic-sleep"], on_status=statuses.append)
    assert calls == ["squeezenet1_1"] and len(statuses) == 1
    assert again[0] == info and os.stat(info.path).st_mtime_ns == mtime
    assert resolve_model("squeezenet1_1", export_missing=False) == info
    assert next(e for e in list_models() if e.name == "squeezenet1_1").exported


def test_corrupt_sidecar_triggers_reexport(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(zoo, "export_cnn", _fake_export(calls))
    info = resolve_model("googlenet")
    assert info.path is not None
    (Path(info.path).parent / "model.json").write_text("{not json")
    assert resolve_model("googlenet") == info
    assert calls == ["googlenet", "googlenet"]


def test_interrupted_export_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(entry: CnnEntry, dest: Path) -> None:
        dest.write_bytes(b"half a model")
        raise ModelError("exporting googlenet failed: boom")

    monkeypatch.setattr(zoo, "export_cnn", broken)
    with pytest.raises(ModelError, match="boom"):
        resolve_model("googlenet")
    assert list((models_dir() / "googlenet").iterdir()) == []
    assert read_cached("googlenet") is None


def test_sidecar_round_trip_and_moved_home(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = resolve_model("synthetic-cpu:dim=8:layers=1")
    assert info.path is not None
    sidecar = Path(info.path).parent / "model.json"
    assert ModelInfo.model_validate_json(sidecar.read_text()) == info
    assert json.loads(sidecar.read_text())["path"] == info.path
    moved = tmp_path / "moved"
    home.rename(moved)
    monkeypatch.setenv("PERSEUS_HOME", str(moved))
    again = resolve_model("synthetic-cpu:dim=8:layers=1")
    assert again.path == str(moved / "models" / "synthetic-cpu_dim8_layers1" / "model.onnx")
    assert again.model_copy(update={"path": info.path}) == info


# --- bring your own ---------------------------------------------------------------------------------


def test_add_valid_model(tmp_path: Path) -> None:
    source = _tiny_model(tmp_path / "mine.onnx")
    info = add_model("my-net.v1", source)
    assert info.path == str(models_dir() / "my-net.v1" / "model.onnx")
    assert Path(info.path).read_bytes() == source.read_bytes()
    assert info.weights == WEIGHTS_USER and info.source == f"user file {source.resolve()}"
    assert info.inputs[0].name == "x" and info.inputs[0].shape == (-1, 4)
    assert info.outputs[0].shape == (-1, 2) and info.batch_dynamic
    assert info.params == 8 and info.flops == 16
    assert resolve_model("my-net.v1") == info
    assert _run(info, 3).shape == (3, 2)
    entry = next(e for e in list_models() if e.name == "my-net.v1")
    assert entry.family == "byo" and entry.input_shape == (-1, 4) and entry.exported
    with pytest.raises(ModelError, match="takes no options"):
        resolve_model("my-net.v1:x=1")
    with pytest.raises(ModelError, match=r"known: .*my-net\.v1"):
        resolve_model("other")


def test_add_over_an_existing_name_needs_replace(tmp_path: Path) -> None:
    first = add_model("mine", _tiny_model(tmp_path / "first.onnx"))
    second = _tiny_model(tmp_path / "second.onnx", in_name="z")
    with pytest.raises(ModelError) as caught:
        add_model("mine", second)
    assert str(caught.value) == (
        f"model 'mine' already exists (user file {tmp_path / 'first.onnx'}); pass --force to replace it, "
        "or choose another name"
    )
    assert resolve_model("mine") == first  # untouched
    replaced = add_model("mine", second, replace=True)
    assert replaced.inputs[0].name == "z" and resolve_model("mine") == replaced


def test_cli_models_add_refuses_an_existing_name_unless_forced(tmp_path: Path) -> None:
    source = str(_tiny_model(tmp_path / "m.onnx"))
    assert cli(["models", "add", "clinet", source]).returncode == 0
    again = cli(["models", "add", "clinet", source])
    assert_one_line_error(again, "model 'clinet' already exists", "pass --force to replace it")
    assert again.returncode == ModelError.exit_code
    forced = cli(["models", "add", "clinet", source, "--force"])
    assert forced.returncode == 0, forced.stderr
    assert "added clinet" in forced.stdout


def test_add_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError) as caught:
        add_model("bad", bad)
    message = str(caught.value)
    assert message.startswith(f"{bad.resolve()} is not a valid ONNX model: ")
    assert "\n" not in message and "Traceback" not in message
    assert not (models_dir() / "bad").exists()


def test_add_empty_and_missing_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="is not a valid ONNX model"):
        add_model("empty", empty)
    with pytest.raises(ModelError, match="is not a file"):
        add_model("missing", tmp_path / "missing.onnx")


@pytest.mark.parametrize(
    "name", ["resnet50", "googlenet", "synthetic-cpu", "synthetic-sleep", "synthetic-cpu_dim8_layers1"]
)
def test_add_name_clash(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelError, match="clashes with a built-in model"):
        add_model(name, _tiny_model(tmp_path / "m.onnx"))


@pytest.mark.parametrize("name", ["", "Net", "-net", ".net", "a/b", "a:b", "a b", "net=1"])
def test_add_bad_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelError, match="must match"):
        add_model(name, _tiny_model(tmp_path / "m.onnx"))


def test_list_models_catalog() -> None:
    entries = {entry.name: entry for entry in list_models()}
    cnns = {"resnet50", "mobilenet_v2", "inception_v3", "googlenet", "vgg16", "densenet121"}
    cnns |= {"squeezenet1_1", "efficientnet_b0"}
    assert {n for n, e in entries.items() if e.family == "cnn"} == cnns
    assert {n for n, e in entries.items() if e.family == "synthetic"} == {"synthetic-cpu", "synthetic-sleep"}
    assert not any(e.exported for e in entries.values() if e.family == "cnn")
    assert entries["inception_v3"].input_shape == (-1, 3, 299, 299)
    assert entries["synthetic-sleep"].exported


# --- inputs and import hygiene ----------------------------------------------------------------------


def test_load_onnx_input_shapes_and_dtypes() -> None:
    info = ModelInfo.model_validate(
        {
            "name": "m", "base": "m", "kind": "onnx", "path": None, "batch_dynamic": False, "params": None,
            "flops": None, "source": "test", "weights": WEIGHTS_USER, "options": {}, "outputs": [],
            "inputs": [
                {"name": "a", "shape": [-1, 3, -1], "dtype": "float16"},
                {"name": "b", "shape": [2, -1], "dtype": "int64"},
                {"name": "c", "shape": [-1], "dtype": "bool"},
            ],
        }
    )  # fmt: skip
    arrays = load_onnx_input(info, 4, seed=7)
    assert arrays["a"].shape == (4, 3, 1) and arrays["a"].dtype == np.float16
    assert arrays["b"].shape == (2, 1) and arrays["b"].dtype == np.int64
    assert arrays["c"].shape == (4,) and arrays["c"].dtype == np.bool_
    assert np.array_equal(load_onnx_input(info, 4, seed=7)["a"], arrays["a"])
    with pytest.raises(ModelError, match="batch"):
        load_onnx_input(info, 0, seed=7)


def test_importing_models_does_not_import_torch() -> None:
    code = "import sys, perseus.models; perseus.models.list_models(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
