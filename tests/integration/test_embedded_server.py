"""The embedded tritonserver serves our repository correctly, with the timing its laws and its own /metrics
say, and leaves nothing."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import psutil
import pytest
import tritonclient.grpc as grpcclient

from perseus.config import ServerConfig, TenantConfig
from perseus.loadgen import LoadSpec, TrialRules, run_load, summarize
from perseus.models import load_onnx_input, resolve_model
from perseus.serving import embedded_server
from tests.integration.helpers import (
    our_server_processes,
    served_since,
    shm_regions,
    shm_regions_of,
    triton_counters,
    wait_for,
)

pytestmark = pytest.mark.integration


def _infer(url: str, model: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
    client = grpcclient.InferenceServerClient(url)
    inputs = []
    for name, array in feeds.items():
        tensor = grpcclient.InferInput(name, list(array.shape), "FP32")
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    result = client.infer(model, inputs)
    client.close()
    out = result.as_numpy("output")
    assert out is not None
    return out


def test_synthetic_cpu_outputs_equal_onnxruntime(tmp_path: Path, perseus_home: Path) -> None:
    info = resolve_model("synthetic-cpu")
    assert info.path is not None
    session = ort.InferenceSession(info.path, providers=["CPUExecutionProvider"])
    config = ServerConfig(tenants=(TenantConfig(model="synthetic-cpu", instances=2),))
    with embedded_server(config, tmp_path / "run") as server:
        assert len(server.stub_pids()) == 2
        # Its stubs' regions (others' servers on a shared host come and go meanwhile).
        regions = shm_regions_of([psutil.Process(pid) for pid in server.stub_pids()])
        assert len(regions) == 2 and regions <= shm_regions()
        for batch, seed in ((1, 0), (3, 1)):
            feeds = load_onnx_input(info, batch=batch, seed=seed)
            served = _infer(server.endpoints.grpc_url, "synthetic-cpu", feeds)
            direct = session.run(["output"], feeds)[0]
            assert served.shape == direct.shape == (batch, direct.shape[1])
            np.testing.assert_allclose(served, direct, rtol=1e-5, atol=1e-6)
    assert our_server_processes(perseus_home) == []
    assert not regions & shm_regions()


def test_sleep_model_closed_loop_throughput_is_c_over_service_time(tmp_path: Path) -> None:
    """Closed loop on a server with known service time S = 20 ms and 2 instances: throughput = c / W for
    c ≤ instances, W = S plus the path, with no request waiting for another's service.

    Judged by laws and by Triton's own /metrics, never by the host's speed: what a busy host adds to the
    path (1.5-3.3 ms on this kind of VM) lowers the throughput but not these.
    """
    service_us = 20_000
    config = ServerConfig(tenants=(TenantConfig(model="synthetic-sleep:service_ms=20", instances=2),))
    with embedded_server(config, tmp_path / "run") as server:
        url, measured, triton, sent = server.endpoints.metrics_url, {}, {}, {}
        for concurrency in (1, 2):
            spec = LoadSpec(
                url=server.endpoints.grpc_url, tenants=("synthetic-sleep",), concurrency=concurrency
            )
            before = triton_counters(url, "synthetic-sleep")
            records = run_load(spec, TrialRules.fixed(3.0, 0.5))
            sent[concurrency] = records.records
            # Triton's counter may trail the last answer by a moment: poll until it reaches what was sent.
            triton[concurrency] = wait_for(
                lambda n=len(records.records), b=before: (
                    got if (got := served_since(url, "synthetic-sleep", b)).requests >= n else None
                ),
                "Triton's success count to reach the requests sent",
                timeout=10.0,
            )
            measured[concurrency] = summarize(records)["synthetic-sleep"]
    for concurrency, summary in measured.items():
        served, ok = triton[concurrency], [r for r in sent[concurrency] if r.ok]
        assert summary.errors == 0 and served.failures == 0
        assert served.requests == len(ok) == len(sent[concurrency])  # Triton counts what was sent
        # No faster than the sleep allows (2% for the window's edges), and no latency shorter than it.
        assert summary.throughput_rps <= concurrency / (service_us / 1e6) * 1.02, (concurrency, summary)
        assert summary.p50_ms >= service_us / 1000
        # Little's law: in a closed loop, throughput × mean latency = c.
        assert summary.throughput_rps * summary.mean_ms / 1000 == pytest.approx(concurrency, rel=0.03)
        # Triton's own clock: each execution sleeps S, inside the latency the client saw.
        assert served.compute_infer_us is not None and served.queue_us is not None, served
        mean_us = sum(r.service_ns for r in ok) / len(ok) / 1000
        assert service_us <= served.compute_infer_us <= mean_us, (served, mean_us)
        # c ≤ instances: each request finds an instance free. Served one at a time, a request at c = 2
        # would wait out the other's whole sleep (queue ≈ S); half of S leaves the host room.
        assert served.queue_us < service_us / 2, served


def test_exception_inside_block_still_reaps_everything(tmp_path: Path, perseus_home: Path) -> None:
    config = ServerConfig(
        tenants=(
            TenantConfig(model="synthetic-sleep:service_ms=1"),
            TenantConfig(model="synthetic-sleep:service_ms=2"),
        )
    )
    with pytest.raises(RuntimeError, match="boom"), embedded_server(config, tmp_path / "run") as server:
        assert [t.name for t in server.tenants] == ["synthetic-sleep", "synthetic-sleep-2"]
        raise RuntimeError("boom")
    assert our_server_processes(perseus_home) == []
