"""`perseus serve` in one process, `perseus bench` in another; clean stops on SIGINT and SIGTERM."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.helpers import cli, our_server_processes, shm_regions, wait_gone

pytestmark = pytest.mark.integration


def _start_serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "perseus", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    grpc = ""
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if match := re.match(r"grpc\s+(\S+)", line):
            grpc = match.group(1)
        if line.startswith("ready"):
            return proc, grpc
        assert time.monotonic() < deadline, "perseus serve did not get ready"
    raise AssertionError(
        f"perseus serve ended early: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}"
    )


@pytest.mark.parametrize("how", ["sigint-to-group", "sigterm-to-pid"])
def test_serve_then_bench_then_clean_stop(how: str, perseus_home: Path) -> None:
    before = shm_regions()
    proc, grpc = _start_serve("--models", "synthetic-sleep:service_ms=5,synthetic-cpu", "--instances", "2")
    try:
        assert re.fullmatch(r"127\.0\.0\.1:\d+", grpc)
        assert len(our_server_processes(perseus_home)) == 1 + 4  # server + 2 stubs per model
        result = cli(
            [
                "bench",
                "--url",
                grpc,
                "--model",
                "synthetic-sleep",
                "--concurrency",
                "2",
                "--duration",
                "2",
                "--warmup",
                "0.5",
                "--json",
                "--allow-invalid",  # a serve test: a short run a busy host made INVALID still counts
            ]
        )
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert {"throughput_rps", "p50_ms", "p95_ms", "p99_ms", "requests", "errors"} <= data.keys()
        assert data["errors"] == 0 and data["requests"] > 100
        assert 5.0 <= data["p50_ms"] < 50.0
    finally:
        if how == "sigint-to-group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, proc.stderr.read() if proc.stderr else ""
    assert wait_gone(perseus_home, timeout=1) == []
    assert shm_regions() <= before


def test_bench_against_a_tritonserver_perseus_did_not_start(tmp_path: Path) -> None:
    """A hand-written repository and a hand-launched tritonserver: bench only needs KServe-v2 gRPC."""
    from perseus.serving.install import locate_triton
    from perseus.serving.ports import free_port

    repo = tmp_path / "repo" / "echo"
    (repo / "1").mkdir(parents=True)
    (repo / "config.pbtxt").write_text(
        'name: "echo"\nbackend: "python"\nmax_batch_size: 4\n'
        'input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
        'output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
    )
    (repo / "1" / "model.py").write_text(
        "import triton_python_backend_utils as pb\n"
        "class TritonPythonModel:\n"
        "    def execute(self, requests):\n"
        "        return [pb.InferenceResponse([pb.Tensor('OUT',"
        " pb.get_input_tensor_by_name(r, 'IN').as_numpy())]) for r in requests]\n"
    )
    install = locate_triton()
    grpc_port, http_port, metrics_port = (
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
    )
    server = subprocess.Popen(
        [
            str(install.binary),
            f"--model-repository={tmp_path / 'repo'}",
            f"--backend-directory={install.backend_dir}",
            "--http-address=127.0.0.1",
            f"--http-port={http_port}",
            "--grpc-address=127.0.0.1",
            f"--grpc-port={grpc_port}",
            f"--metrics-port={metrics_port}",
            "--allow-metrics=false",
        ],
        env=install.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        result = None
        for _ in range(100):
            result = cli(
                [
                    "bench",
                    "--url",
                    f"127.0.0.1:{grpc_port}",
                    "--model",
                    "echo",
                    "--duration",
                    "1",
                    "--warmup",
                    "0.2",
                    "--json",
                    "--allow-invalid",
                ]
            )
            if result.returncode == 0:
                break
            time.sleep(0.3)
        assert result is not None and result.returncode == 0, result.stderr if result else ""
        data = json.loads(result.stdout)
        assert data["requests"] > 50 and data["errors"] == 0
    finally:
        server.terminate()
        server.wait(timeout=30)
