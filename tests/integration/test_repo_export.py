"""Exported repositories: the python-backend one served as is by the real tritonserver, the onnxruntime one
checked structurally, and `perseus repo export` end to end."""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import psutil
import pytest
import tritonclient.http as httpclient
from google.protobuf import text_format  # type: ignore[import-untyped]
from tritonclient.grpc import model_config_pb2

from perseus.config import ServerConfig, TenantConfig
from perseus.models import load_onnx_input
from perseus.serving import procs
from perseus.serving.export_repo import Placement, export_repository
from perseus.serving.install import locate_triton
from perseus.serving.ports import pick_ports
from perseus.serving.server import resolve_tenants
from tests.integration.helpers import assert_one_line_error, cli, dead, our_server_processes, shm_regions

pytestmark = pytest.mark.integration

CPU_MODEL = "synthetic-cpu:dim=64:layers=2"
HOST = "127.0.0.1"


def _ready(http_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{http_port}/v2/health/ready", timeout=1) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def _tritonserver(repo: Path, log: Path) -> Iterator[tuple[int, int]]:
    """The real binary on `repo` exactly as a user would start it; yields (pid, http port), reaps all."""
    install = locate_triton()
    ports = pick_ports(HOST, {"http": None, "grpc": None, "metrics": None})
    argv = [
        str(install.binary),
        f"--model-repository={repo}",
        f"--backend-directory={install.backend_dir}",
        f"--http-address={HOST}",
        f"--http-port={ports['http']}",
        f"--grpc-address={HOST}",
        f"--grpc-port={ports['grpc']}",
        f"--metrics-address={HOST}",
        f"--metrics-port={ports['metrics']}",
        "--allow-gpu-metrics=false",
        "--exit-on-error=true",
        "--strict-readiness=true",
    ]
    proc = procs.spawn(argv, install.env, log)
    stubs: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while not _ready(ports["http"]):
            assert proc.poll() is None, f"tritonserver exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"tritonserver not ready: {log.read_text()[-2000:]}"
            time.sleep(0.1)
        stubs = procs.descendants(proc.pid)
        yield proc.pid, ports["http"]
    finally:
        children = [*stubs, *procs.descendants(proc.pid)]
        regions = procs.shm_regions(children)
        procs.stop(proc, children, 15.0)
        procs.remove_shm(regions)


def _infer(http_port: int, model: str, feeds: dict[str, npt.NDArray[Any]]) -> npt.NDArray[Any]:
    client = httpclient.InferenceServerClient(f"{HOST}:{http_port}")
    try:
        inputs = []
        for name, array in feeds.items():
            tensor = httpclient.InferInput(name, list(array.shape), "FP32")
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        out = client.infer(model, inputs).as_numpy("output")
    finally:
        client.close()
    assert out is not None
    return np.asarray(out)


def test_exported_python_repository_serves_on_real_triton(tmp_path: Path, perseus_home: Path) -> None:
    config = ServerConfig(
        tenants=(
            TenantConfig(model=CPU_MODEL, instances=2, intra_op_threads=1),
            TenantConfig(model="synthetic-sleep:service_ms=2"),
        )
    )
    tenants = resolve_tenants(config)
    export_repository(tenants, tmp_path / "exported", "triton-python", Placement())
    # Move it: a self-contained repository must not point back into perseus's model cache.
    repo = (tmp_path / "exported").rename(tmp_path / "moved")
    onnx_file = repo / "synthetic-cpu" / "1" / "model.onnx"
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    before = shm_regions()
    with _tritonserver(repo, tmp_path / "tritonserver.log") as (pid, http_port):
        stubs = procs.descendants(pid)
        assert len(stubs) == 3  # two synthetic-cpu instances, one sleep instance
        for batch, seed in ((1, 0), (3, 1)):
            feeds = load_onnx_input(tenants[0].model, batch=batch, seed=seed)
            served = _infer(http_port, "synthetic-cpu", feeds)
            direct = session.run(["output"], feeds)[0]
            assert served.shape == direct.shape == (batch, 64)
            np.testing.assert_allclose(served, direct, rtol=1e-5, atol=1e-6)
        echo = np.arange(4, dtype=np.float32).reshape(4, 1)
        np.testing.assert_array_equal(_infer(http_port, "synthetic-sleep", {"input": echo}), echo)
        url = f"http://{HOST}:{http_port}/v2/models/synthetic-cpu/config"
        with urllib.request.urlopen(url, timeout=5) as resp:
            served_config = json.load(resp)
        assert served_config["parameters"]["onnx_path"]["string_value"] == "model.onnx"
    assert dead(pid)
    assert all(dead(stub.pid) for stub in stubs)
    assert our_server_processes(perseus_home) == []
    assert shm_regions() <= before


def _parsed(path: Path) -> Any:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def test_cli_onnxruntime_export_is_structurally_valid(tmp_path: Path) -> None:
    """The onnxruntime backend is not in the nvidia-pytriton wheel, so this repository cannot be loaded here:
    check it against Triton's ModelConfig schema and the ONNX file it carries instead."""
    target = tmp_path / "repo"
    result = cli(
        [
            "repo",
            "export",
            "--format",
            "triton-onnxruntime",
            "--models",
            f"{CPU_MODEL},synthetic-cpu:dim=32:layers=1",
            "--instances",
            "2",
            "--gpus",
            "0,1",
            "--dynamic-batching",
            "--preferred-batch-sizes",
            "2,4",
            "--max-queue-delay-us",
            "500",
            "--intra-op-threads",
            "1",
            str(target),
        ]
    )
    assert result.returncode == 0, result.stderr
    assert "synthetic-cpu: " in result.stdout and "KIND_GPU x2 per GPU (gpus 0,1)" in result.stdout
    assert f"tritonserver --model-repository={target}" in (target / "README.txt").read_text()
    for name, dim in (("synthetic-cpu", 64), ("synthetic-cpu-2", 32)):
        config = _parsed(target / name / "config.pbtxt")
        assert (config.name, config.platform, config.max_batch_size) == (name, "onnxruntime_onnx", 8)
        group = config.instance_group[0]
        assert (group.kind, group.count, list(group.gpus)) == (
            model_config_pb2.ModelInstanceGroup.KIND_GPU,
            2,
            [0, 1],
        )
        assert list(config.dynamic_batching.preferred_batch_size) == [2, 4]
        assert config.dynamic_batching.max_queue_delay_microseconds == 500
        assert config.parameters["intra_op_thread_count"].string_value == "1"
        graph = onnx.load(str(target / name / "1" / "model.onnx")).graph
        onnx.checker.check_model(str(target / name / "1" / "model.onnx"))
        for declared, tensors in ((graph.input, config.input), (graph.output, config.output)):
            assert [v.name for v in declared] == [t.name for t in tensors]
            dims = [
                d.dim_value if d.HasField("dim_value") else -1 for d in declared[0].type.tensor_type.shape.dim
            ]
            assert dims == [-1, *tensors[0].dims] == [-1, dim]
            assert tensors[0].data_type == model_config_pb2.TYPE_FP32


def test_cli_python_export_then_refusals(tmp_path: Path, perseus_home: Path) -> None:
    resnet_cached = (perseus_home / "models" / "resnet50").exists()
    target = tmp_path / "repo"
    result = cli(["repo", "export", "--format", "triton-python", "--models", CPU_MODEL, str(target)])
    assert result.returncode == 0, result.stderr
    assert "triton-python  KIND_CPU x1" in result.stdout
    assert (target / "synthetic-cpu" / "1" / "model.py").is_file()

    again = cli(["repo", "export", "--format", "triton-python", "--models", CPU_MODEL, str(target)])
    assert_one_line_error(again, "is not empty; pass --force")
    unknown = cli(["repo", "export", "--models", "resnet50,nope", str(tmp_path / "other")])
    assert_one_line_error(unknown, "unknown model 'nope'")
    # The typo is caught before resnet50 (listed first) is exported, which would take seconds.
    assert (perseus_home / "models" / "resnet50").exists() == resnet_cached
    sleep = cli(["repo", "export", "--models", "synthetic-sleep", str(tmp_path / "other")])
    assert_one_line_error(sleep, "synthetic-sleep", "--format triton-python")
    bad_format = cli(["repo", "export", "--format", "onnx", "--models", CPU_MODEL, str(tmp_path / "other")])
    assert_one_line_error(bad_format, "--format must be one of")
    assert not (tmp_path / "other").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]  # no temp folders left behind
