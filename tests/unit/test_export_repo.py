"""Exported model repositories: both formats' config.pbtxt (parsed with Triton's schema), layout, refusals."""

from pathlib import Path
from typing import Any

import onnx
import pytest
from google.protobuf import text_format  # type: ignore[import-untyped]
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2

from perseus.cli.repo_cmd import parse_gpus, placement_for
from perseus.config import TenantConfig
from perseus.core.errors import ConfigError, ModelError
from perseus.models.inspect_onnx import describe
from perseus.models.synthetic import build_cpu_model, sleep_info
from perseus.serving.export_repo import (
    Placement,
    check_config,
    check_onnx,
    export_repository,
    render_onnxruntime_config,
)
from perseus.serving.repository import Tenant

GPU = Placement(kind="gpu", gpus=(0, 1))


def _static_model(path: Path) -> None:
    """[1, 4] → Relu → [1, 4]: a model without a dynamic batch dim."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "static",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture
def onnx_tenant(tmp_path: Path) -> Any:
    """A factory: Tenant for a tiny ONNX model (dynamic batch unless static=True) with the given knobs."""

    def make(name: str = "mlp", static: bool = False, **knobs: Any) -> Tenant:
        path = tmp_path / f"{name}.onnx"
        if static:
            _static_model(path)
        else:
            onnx.save(build_cpu_model(dim=8, layers=2), str(path))
        info = describe(
            onnx.load(str(path)), name=name, base=name, path=str(path), source="test", weights="w", options={}
        )
        return Tenant(name, TenantConfig(model=name, **knobs), info)

    return make


def _sleep_tenant() -> Tenant:
    return Tenant("synthetic-sleep", TenantConfig(model="synthetic-sleep"), sleep_info({"service_ms": "5"}))


def _parse(text: str) -> Any:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def test_onnxruntime_config_carries_every_knob(onnx_tenant: Any) -> None:
    tenant = onnx_tenant(
        instances=3,
        max_batch_size=16,
        dynamic_batching=True,
        preferred_batch_sizes=(4, 8),
        max_queue_delay_us=10_000,
        intra_op_threads=2,
        inter_op_threads=1,
    )
    config = _parse(render_onnxruntime_config(tenant, GPU))
    assert (config.name, config.platform, config.backend) == ("mlp", "onnxruntime_onnx", "onnxruntime")
    assert config.max_batch_size == 16
    assert [(t.name, list(t.dims), t.data_type) for t in config.input] == [
        ("input", [8], model_config_pb2.TYPE_FP32)
    ]
    assert [(t.name, list(t.dims)) for t in config.output] == [("output", [8])]
    [group] = config.instance_group
    assert (group.kind, group.count, list(group.gpus)) == (
        model_config_pb2.ModelInstanceGroup.KIND_GPU,
        3,
        [0, 1],
    )
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]
    assert config.dynamic_batching.max_queue_delay_microseconds == 10_000
    params = {key: value.string_value for key, value in config.parameters.items()}
    assert params == {"intra_op_thread_count": "2", "inter_op_thread_count": "1"}
    assert check_config(render_onnxruntime_config(tenant, GPU), tenant, "triton-onnxruntime", GPU) is not None


def test_onnxruntime_config_defaults_omit_batching_and_threads(onnx_tenant: Any) -> None:
    config = _parse(render_onnxruntime_config(onnx_tenant(), Placement(kind="cpu")))
    assert not config.HasField("dynamic_batching")
    assert dict(config.parameters) == {}
    [group] = config.instance_group
    assert (group.kind, group.count, list(group.gpus)) == (
        model_config_pb2.ModelInstanceGroup.KIND_CPU,
        1,
        [],
    )


def test_gpu_kind_without_ids_leaves_placement_to_triton(onnx_tenant: Any) -> None:
    config = _parse(render_onnxruntime_config(onnx_tenant(instances=2), Placement(kind="gpu")))
    [group] = config.instance_group
    assert (group.kind, group.count, list(group.gpus)) == (
        model_config_pb2.ModelInstanceGroup.KIND_GPU,
        2,
        [],
    )


def test_fixed_batch_model_gets_max_batch_size_zero_and_full_dims(onnx_tenant: Any) -> None:
    tenant = onnx_tenant("static", static=True)
    config = _parse(render_onnxruntime_config(tenant, GPU))
    assert config.max_batch_size == 0
    assert list(config.input[0].dims) == [1, 4] and list(config.output[0].dims) == [1, 4]


def test_dynamic_batching_on_fixed_batch_model_is_refused(onnx_tenant: Any) -> None:
    with pytest.raises(ModelError, match="dynamic batch dimension"):
        render_onnxruntime_config(onnx_tenant("static", static=True, dynamic_batching=True), GPU)


def test_sleep_model_cannot_be_exported_for_onnxruntime(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"^synthetic-sleep: .*--format triton-python"):
        export_repository([_sleep_tenant()], tmp_path / "repo", "triton-onnxruntime", GPU)
    assert list(tmp_path.iterdir()) == []  # nothing half-written, no temp folder left


def test_onnxruntime_export_layout(tmp_path: Path, onnx_tenant: Any) -> None:
    tenants = [onnx_tenant("a", instances=2), onnx_tenant("b", static=True)]
    exported = export_repository(tenants, tmp_path / "repo", "triton-onnxruntime", GPU)
    root = tmp_path / "repo"
    assert sorted(p.name for p in root.iterdir()) == ["README.txt", "a", "b"]
    for model in exported:
        assert model.path == root / model.name and model.placement == GPU
        assert sorted(str(p.relative_to(model.path)) for p in model.path.rglob("*")) == [
            "1",
            "1/model.onnx",
            "config.pbtxt",
        ]
        config = _parse((model.path / "config.pbtxt").read_text())
        check_onnx(model.path / "1" / "model.onnx", config, model.name)
    readme = (root / "README.txt").read_text()
    assert f"tritonserver --model-repository={root}" in readme and "per GPU" in readme
    assert "a: a; weights: w" in readme


def test_python_export_is_self_contained(tmp_path: Path, onnx_tenant: Any) -> None:
    tenant = onnx_tenant("mlp", instances=2, intra_op_threads=1)
    exported = export_repository([tenant, _sleep_tenant()], tmp_path / "repo", "triton-python", Placement())
    mlp, sleep = (model.path for model in exported)
    assert "class TritonPythonModel" in (mlp / "1" / "model.py").read_text()
    assert (mlp / "1" / "model.onnx").read_bytes() == Path(str(tenant.model.path)).read_bytes()
    config = _parse((mlp / "config.pbtxt").read_text())
    assert config.backend == "python" and config.platform == ""
    params = {key: value.string_value for key, value in config.parameters.items()}
    assert params["onnx_path"] == "model.onnx" and params["intra_op_threads"] == "1"
    assert config.instance_group[0].count == 2
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU
    # The sleep model has no ONNX: only model.py, which sleeps.
    assert sorted(p.name for p in (sleep / "1").iterdir()) == ["model.py"]
    assert "onnxruntime" in (tmp_path / "repo" / "README.txt").read_text()


def test_python_format_refuses_gpu_placement(tmp_path: Path, onnx_tenant: Any) -> None:
    with pytest.raises(ConfigError, match="KIND_CPU"):
        export_repository([onnx_tenant()], tmp_path / "repo", "triton-python", GPU)


def test_non_empty_directory_needs_force(tmp_path: Path, onnx_tenant: Any) -> None:
    target = tmp_path / "repo"
    export_repository([onnx_tenant("a")], target, "triton-onnxruntime", GPU)
    with pytest.raises(ConfigError, match="not empty; pass --force"):
        export_repository([onnx_tenant("b")], target, "triton-onnxruntime", GPU)
    assert (target / "a").is_dir()
    export_repository([onnx_tenant("b")], target, "triton-onnxruntime", GPU, force=True)
    assert sorted(p.name for p in target.iterdir()) == ["README.txt", "b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.onnx", "b.onnx", "repo"]  # no temp leftovers


def test_force_never_replaces_something_that_is_not_a_repository(tmp_path: Path, onnx_tenant: Any) -> None:
    target = tmp_path / "home"
    target.mkdir()
    (target / "notes.txt").write_text("precious")
    with pytest.raises(ConfigError, match="not a Triton model repository"):
        export_repository([onnx_tenant()], target, "triton-onnxruntime", GPU, force=True)
    assert (target / "notes.txt").read_text() == "precious"


def test_empty_directory_and_file_targets(tmp_path: Path, onnx_tenant: Any) -> None:
    (tmp_path / "empty").mkdir()
    export_repository([onnx_tenant()], tmp_path / "empty", "triton-onnxruntime", GPU)
    assert (tmp_path / "empty" / "mlp" / "config.pbtxt").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        export_repository([onnx_tenant()], tmp_path / "file", "triton-onnxruntime", GPU, force=True)


def test_check_config_catches_a_bad_render(onnx_tenant: Any) -> None:
    tenant = onnx_tenant(instances=2)
    text = render_onnxruntime_config(tenant, GPU)
    with pytest.raises(ModelError, match=r"instance_group.*perseus bug"):
        check_config(text.replace("count: 2", "count: 3"), tenant, "triton-onnxruntime", GPU)
    with pytest.raises(ModelError, match="not a valid ModelConfig"):
        check_config(text.replace("max_batch_size", "max_batch"), tenant, "triton-onnxruntime", GPU)
    with pytest.raises(ModelError, match="inputs"):
        check_config(text.replace("dims: [ 8 ]", "dims: [ 9 ]", 1), tenant, "triton-onnxruntime", GPU)


def test_check_onnx_catches_a_config_that_does_not_fit_the_file(onnx_tenant: Any) -> None:
    tenant = onnx_tenant()
    path = Path(str(tenant.model.path))
    config = _parse(render_onnxruntime_config(tenant, GPU))
    check_onnx(path, config, "mlp")
    config.input[0].dims[0] = 9
    with pytest.raises(ModelError, match=r"input 'input' has shape \[-1, 8\], config.pbtxt \[-1, 9\]"):
        check_onnx(path, config, "mlp")
    config.input[0].name = "x"
    with pytest.raises(ModelError, match="ONNX inputs"):
        check_onnx(path, config, "mlp")


def test_placement_validation() -> None:
    with pytest.raises(ConfigError):
        Placement(kind="cpu", gpus=(0,))
    with pytest.raises(ConfigError):
        Placement(kind="gpu", gpus=(1, 1))
    assert placement_for("triton-onnxruntime", None, None) == Placement(kind="gpu")
    assert placement_for("triton-onnxruntime", "gpu", "0,1") == GPU
    assert placement_for("triton-python", None, None) == Placement()
    for fmt, kind, gpus in (
        ("onnx", None, None),
        ("triton-python", "gpu", None),
        ("triton-onnxruntime", "cpu", "0"),
    ):
        with pytest.raises(ConfigError):
            placement_for(fmt, kind, gpus)
    with pytest.raises(ConfigError, match="--gpus"):
        parse_gpus("0,x")
