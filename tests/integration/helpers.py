"""Helpers for tests against the real tritonserver: run the CLI, find our leftover processes, a tiny ONNX;
the referees a test judges by instead of the host's speed (Triton's own counters, a condition polled to a
deadline rather than a sleep)."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import onnx
import psutil
from onnx import TensorProto, helper

from perseus.core.errors import EndpointError
from perseus.telemetry.breakdown import ModelBreakdown, model_breakdown
from perseus.telemetry.triton_metrics import ModelCounters, scrape

T = TypeVar("T")

SERVER_MARKERS = ("tritonserver", "triton_python_backend_stub")


def cli(
    args: Sequence[str], timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perseus", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or dict(os.environ),
    )


def our_server_processes(home: Path) -> list[psutil.Process]:
    """tritonserver or stub processes whose command line points into this test session's PERSEUS_HOME."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if any(m in cmd for m in SERVER_MARKERS) and str(home) in cmd:
            found.append(proc)
    return found


def dead(pid: int) -> bool:
    """Gone, or a zombie: dead, and waiting only for whoever adopted it (PID 1) to reap it."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(home: Path, timeout: float = 20) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    left = our_server_processes(home)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = our_server_processes(home)
    return left


def shm_regions() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob("triton_python_backend_shm_region_*")}


def shm_regions_of(processes: Sequence[psutil.Process]) -> set[str]:
    """The /dev/shm regions these stub processes were started with (each names its own on its command
    line): a test's own regions, whatever other servers on a shared host create or remove meanwhile."""
    found = set()
    for proc in processes:
        try:
            found |= {arg for arg in proc.cmdline() if arg.startswith("triton_python_backend_shm_region_")}
        except psutil.Error:
            continue
    return found


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def tiny_onnx(path: Path) -> Path:
    """A 4 → 2 MatMul with a dynamic batch: the smallest real bring-your-own model."""
    weight = helper.make_tensor("w", TensorProto.FLOAT, [4, 2], np.ones(8, dtype=np.float32).tolist())
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        [weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def wait_for(condition: Callable[[], T], what: str, timeout: float = 30.0, every: float = 0.05) -> T:
    """Poll `condition` until it returns something truthy and return that; fail naming `what` after
    `timeout` s. A generous deadline instead of a sleep: a slow host only makes it take longer."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(every)
    return found


def triton_counters(metrics_url: str, model: str) -> ModelCounters:
    """Triton's own cumulative counters of one model, scraped now: what the server says it did."""
    return scrape(metrics_url).models.get(model, ModelCounters())


def triton_served(metrics_url: str, model: str) -> float:
    """Requests Triton has served `model` so far; 0 while /metrics does not answer (a condition to poll)."""
    try:
        return triton_counters(metrics_url, model).request_success
    except EndpointError:
        return 0.0


def served_since(metrics_url: str, model: str, before: ModelCounters) -> ModelBreakdown:
    """What Triton says it did for `model` since `before` was scraped: requests, batches, and per request
    its queue and compute times (Triton's clocks, not the load generator's)."""
    return model_breakdown(model, before, triton_counters(metrics_url, model))


def metrics_url_of(proc: psutil.Process) -> str:
    """The /metrics URL of a tritonserver process, from its command line (a server perseus started out of
    the test's reach, e.g. in a Ray actor)."""
    [port] = [arg.split("=", 1)[1] for arg in proc.cmdline() if arg.startswith("--metrics-port=")]
    return f"http://127.0.0.1:{port}/metrics"
