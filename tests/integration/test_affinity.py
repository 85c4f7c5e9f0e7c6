"""A server started on a subset of the CPUs stays on it: every thread of tritonserver, of its python-backend
stubs (where onnxruntime runs) and of the in-process reference's workers may run only there. Unset intra-op
threads once made onnxruntime pin a thread per physical core, outside the process's affinity."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from perseus.config import ServerConfig, TenantConfig
from perseus.serving import embedded_server
from perseus.serving.inprocess import inprocess_server
from tests.integration.helpers import cli

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs a CPU to leave out"),
]

# An ONNX model run by onnxruntime with its intra-op threads unset (0): the case that escaped.
CONFIG = ServerConfig(tenants=(TenantConfig(model="synthetic-cpu:dim=64:layers=2", instances=2),))


@contextmanager
def on_one_cpu() -> Iterator[int]:
    """Start what the block starts on one CPU (children inherit it), then give this process its CPUs back."""
    before = os.sched_getaffinity(0)
    cpu = min(before)  # onnxruntime pins its pool's worker threads to the cores after the first
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


def allowed_cpus(pids: list[int]) -> dict[str, str]:
    """Cpus_allowed_list of every thread of these processes, by `pid/tid`."""
    found = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for line in (task / "status").read_text().splitlines():
                if line.startswith("Cpus_allowed_list:"):
                    found[f"{pid}/{task.name}"] = line.split(":", 1)[1].strip()
    return found


def test_the_embedded_server_and_its_stubs_stay_on_their_cpu(tmp_path: Path) -> None:
    with on_one_cpu() as cpu, embedded_server(CONFIG, tmp_path) as server:
        pids = [server.pid, *server.stub_pids()]
        result = cli(
            ["bench", "--url", server.endpoints.grpc_url, "--model", "synthetic-cpu", "--duration", "1"]
        )
        assert result.returncode in (0, 7), result.stderr  # onnxruntime's threads exist and have run
        threads = allowed_cpus(pids)
    assert len(pids) == 3 and len(threads) > 10
    assert set(threads.values()) == {str(cpu)}, threads


def test_the_inprocess_reference_stays_on_its_cpu(tmp_path: Path) -> None:
    with on_one_cpu() as cpu, inprocess_server(CONFIG, tmp_path) as reference:
        pids = [pid for pids in reference.tenant_pids().values() for pid in pids]
        threads = allowed_cpus(pids)
    assert pids and set(threads.values()) == {str(cpu)}, threads
