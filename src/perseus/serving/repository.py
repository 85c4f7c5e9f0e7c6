"""Generate a Triton model repository (python backend running onnxruntime) for a set of tenants."""

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from perseus.config.serving import TenantConfig
from perseus.core.errors import ModelError
from perseus.models import ModelInfo, TensorSpec

_TRITON_TYPES = {
    "float32": "TYPE_FP32",
    "float16": "TYPE_FP16",
    "float64": "TYPE_FP64",
    "int8": "TYPE_INT8",
    "int16": "TYPE_INT16",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "uint8": "TYPE_UINT8",
    "bool": "TYPE_BOOL",
}


@dataclass(frozen=True)
class Tenant:
    """A tenant resolved to a concrete model: what the repository and load generator need."""

    name: str  # the Triton model name
    config: TenantConfig
    model: ModelInfo


def _dims(spec: TensorSpec, batched: bool) -> str:
    dims = spec.shape[1:] if batched else spec.shape
    return "[ " + ", ".join(str(d) for d in dims) + " ]"


def tensor_block(spec: TensorSpec, batched: bool) -> str:
    if spec.dtype not in _TRITON_TYPES:
        raise ModelError(f"tensor {spec.name!r} has dtype {spec.dtype}, which perseus cannot serve yet")
    dtype = _TRITON_TYPES[spec.dtype]
    return f'  {{ name: "{spec.name}"\n    data_type: {dtype}\n    dims: {_dims(spec, batched)} }}'


def batching_block(knobs: TenantConfig) -> list[str]:
    if not knobs.dynamic_batching:
        return []
    inner = [f"max_queue_delay_microseconds: {knobs.max_queue_delay_us}"]
    if knobs.preferred_batch_sizes:
        inner.insert(0, "preferred_batch_size: [ " + ", ".join(map(str, knobs.preferred_batch_sizes)) + " ]")
    return ["dynamic_batching { " + " ".join(inner) + " }"]


def render_config(tenant: Tenant, onnx_path: str | None = None) -> str:
    """config.pbtxt text for one tenant (python backend). `onnx_path` overrides where model.py finds the
    ONNX file; a relative path is read from the model's version folder (self-contained repositories)."""
    model, knobs = tenant.model, tenant.config
    batched = model.batch_dynamic
    if knobs.dynamic_batching and not batched:
        raise ModelError(
            f"{tenant.name}: dynamic batching needs a model with a dynamic batch dimension; "
            f"{model.name} has a fixed input shape {list(model.inputs[0].shape)}"
        )
    params = {
        "perseus_kind": model.kind,
        "intra_op_threads": str(knobs.effective_intra_op_threads()),
        "inter_op_threads": str(knobs.inter_op_threads),
        "allow_spinning": "1" if knobs.allow_spinning else "0",
    }
    if model.kind == "sleep":
        params["service_ms"] = model.options.get("service_ms", "10")
    else:
        assert model.path is not None
        params["onnx_path"] = onnx_path or model.path
    lines = [
        f'name: "{tenant.name}"',
        'backend: "python"',
        f"max_batch_size: {knobs.max_batch_size if batched else 0}",
        "input [\n" + ",\n".join(tensor_block(t, batched) for t in model.inputs) + "\n]",
        "output [\n" + ",\n".join(tensor_block(t, batched) for t in model.outputs) + "\n]",
        f"instance_group [ {{ kind: KIND_CPU, count: {knobs.instances} }} ]",
        *batching_block(knobs),
    ]
    lines += [f'parameters {{ key: "{k}" value {{ string_value: "{v}" }} }}' for k, v in params.items()]
    return "\n".join(lines) + "\n"


def write_repository(root: Path, tenants: list[Tenant]) -> Path:
    """Write (replacing) a model repository with one python-backend model per tenant."""
    if root.exists():
        shutil.rmtree(root)
    model_py = resources.files("perseus.serving.backend").joinpath("model.py").read_text()
    for tenant in tenants:
        version_dir = root / tenant.name / "1"
        version_dir.mkdir(parents=True)
        (version_dir / "model.py").write_text(model_py)
        (root / tenant.name / "config.pbtxt").write_text(render_config(tenant))
    return root
