"""The in-process reference backend: real onnxruntime workers, queueing ground truth, pinning, cleanup."""

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from perseus.config import ServerConfig, TenantConfig
from perseus.core.errors import EndpointError, ServerError
from perseus.loadgen import LoadSpec, TrialRules, run_load, summarize
from perseus.loadgen.client_base import RequestFailed
from perseus.loadgen.clients import open_client
from perseus.models import add_model
from perseus.serving.inprocess import InprocessServer, inprocess_server
from perseus.serving.pinning import cpus_allowed, thread_ids
from tests.integration.helpers import tiny_onnx

pytestmark = pytest.mark.integration

SLOW, FAST, CPU = "synthetic-sleep", "synthetic-sleep-2", "synthetic-cpu"


def _workers(marker: Path) -> list[psutil.Process]:
    """Worker processes whose command line (its settings) points into this folder."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "perseus.serving.inprocess_worker" in cmd and str(marker) in cmd:
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InprocessServer]:
    config = ServerConfig(
        tenants=(
            TenantConfig(model="synthetic-sleep:service_ms=100", instances=2),  # c/S law
            TenantConfig(model="synthetic-sleep:service_ms=1", max_batch_size=4),  # the path's overhead
            TenantConfig(
                model="synthetic-cpu:dim=256:layers=4", dynamic_batching=True, max_queue_delay_us=200
            ),
        )
    )
    with inprocess_server(config, tmp_path_factory.mktemp("inproc")) as running:
        yield running


def test_closed_loop_throughput_is_c_over_w_with_no_wait_for_another(server: InprocessServer) -> None:
    """Two users on two instances of a 100 ms sleep: throughput = c / W (Little's law), and no request
    waits for another's service. Laws, not the host's speed: a busy host lengthens W, not these."""
    spec = LoadSpec(url=server.url, tenants=(SLOW,), concurrency=2, protocol="inprocess")
    summary = summarize(run_load(spec, TrialRules.fixed(5.0, 0.5)))[SLOW]
    assert summary.errors == 0
    # Closed loop: throughput × mean latency = c. (A window of T = 5 s cuts each user's last request: at
    # most c × W / T = 2 × 0.1 / 5 = 4% off.)
    assert summary.throughput_rps * summary.mean_ms / 1000 == pytest.approx(2, rel=0.05), summary
    # No faster than two sleeps at a time (2 / 0.1 s = 20 req/s; 2% for the window's edges) ...
    assert summary.throughput_rps <= 2 / 0.100 * 1.02, summary
    assert summary.p50_ms >= 100.0
    # ... and in parallel: served one at a time, each request would wait out the other's sleep (a latency
    # of 2 × 100 = 200 ms); the middle, 150 ms, leaves a busy host 50 ms a request.
    assert summary.p50_ms < 150.0, summary


def test_a_fast_model_is_served_back_to_back(server: InprocessServer) -> None:
    """A 1 ms sleep at c = 1: the loop sends the next request as the last one returns, and no latency is
    shorter than the sleep. (How small the path's overhead is, against Triton's, is measured by
    benchmarks/serving_overhead.py: on a shared host no bound on it is a law.)"""
    spec = LoadSpec(url=server.url, tenants=(FAST,), protocol="inprocess")
    summary = summarize(run_load(spec, TrialRules.fixed(2.0, 0.5)))[FAST]
    assert summary.errors == 0
    assert summary.mean_ms >= 1.0 and summary.p50_ms >= 1.0, summary
    # One request in flight at a time: throughput × mean latency ≤ 1 (Little's law; the window's last
    # request may straddle its end, W / T ≈ 1 ms / 2 s). What the client spends between requests lowers
    # it, by how much depends on the host, so only the law's side is asserted.
    assert summary.throughput_rps * summary.mean_ms / 1000 <= 1.01, summary


def test_dynamic_batching_serves_many_users_without_errors(server: InprocessServer) -> None:
    spec = LoadSpec(url=server.url, tenants=(CPU,), concurrency=8, protocol="inprocess")
    summary = summarize(run_load(spec, TrialRules.fixed(2.0, 0.5)))[CPU]
    # Every answer arrives (no batch refused), at least one for each of the 8 users (a request does not
    # take 2 s), and never more than 8 in flight: throughput × mean ≤ 8 (Little's law; 1% for the
    # window's edge). How many in 2 s depends on the host, so no count is asserted.
    assert summary.errors == 0 and summary.requests >= 8, summary
    assert summary.throughput_rps * summary.mean_ms / 1000 <= 8 * 1.01, summary


def test_load_workers_in_other_processes_reach_the_workers(server: InprocessServer) -> None:
    spec = LoadSpec(url=server.url, tenants=(FAST,), concurrency=2, workers=2, protocol="inprocess")
    trial = run_load(spec, TrialRules.fixed(1.5, 0.5))
    summary = summarize(trial)[FAST]
    # Two worker processes, one user each, every request answered: at most 2 in flight (Little's law),
    # at least one answer each (a 1 ms sleep does not take 1.5 s). How many depends on the host.
    assert trial.workers == 2
    assert summary.errors == 0 and summary.requests >= 2, summary
    assert summary.throughput_rps * summary.mean_ms / 1000 <= 2 * 1.01, summary


def test_a_batch_above_max_batch_size_fails_with_the_reason(server: InprocessServer) -> None:
    async def infer() -> None:
        client = await open_client(
            server.url, "inprocess", {(FAST, 5)}, timeout_s=5, seed=0, max_connections=1
        )
        try:
            await client.infer(FAST, 5)
        finally:
            await client.close()

    with pytest.raises(RequestFailed, match="exceeds max_batch_size 4") as failed:
        asyncio.run(infer())
    assert failed.value.kind == "INVALID_ARGUMENT"


def test_unreachable_urls_are_endpoint_errors(tmp_path: Path) -> None:
    missing = LoadSpec(url=f"inproc://{tmp_path / 'nowhere'}", tenants=("m",), protocol="inprocess")
    with pytest.raises(EndpointError, match="cannot reach the in-process reference server"):
        run_load(missing, TrialRules.fixed(1.0, 0.0))
    no_worker = LoadSpec(url=f"inproc://{tmp_path}", tenants=("m",), protocol="inprocess")
    with pytest.raises(EndpointError, match="model 'm' is not served at inproc://"):
        run_load(no_worker, TrialRules.fixed(1.0, 0.0))


@pytest.mark.skipif(0 not in os.sched_getaffinity(0), reason="needs CPU 0")
def test_a_pinned_tenant_runs_every_thread_on_its_cpus(tmp_path: Path) -> None:
    config = ServerConfig(
        tenants=(
            TenantConfig(model="synthetic-cpu:dim=64:layers=2", instances=2, intra_op_threads=2, cpus=(0,)),
            TenantConfig(model="synthetic-sleep:service_ms=1"),
        )
    )
    with inprocess_server(config, tmp_path) as running:
        spec = LoadSpec(url=running.url, tenants=("synthetic-cpu",), concurrency=2, protocol="inprocess")
        assert summarize(run_load(spec, TrialRules.fixed(1.0, 0.2)))["synthetic-cpu"].errors == 0
        pid = running.pid_of("synthetic-cpu")
        assert running.tenant_pids()["synthetic-cpu"] == [pid]
        assert "Cpus_allowed_list:\t0\n" in Path(f"/proc/{pid}/status").read_text()
        threads = thread_ids(pid)
        assert len(threads) >= 5, threads  # at least main, 2 executors and a pool thread per session
        assert {cpus_allowed(pid, tid) for tid in threads} == {(0,)}
        assert cpus_allowed(running.pid_of("synthetic-sleep")) == tuple(sorted(os.sched_getaffinity(0)))


def test_exception_inside_block_leaves_no_worker(tmp_path: Path) -> None:
    config = ServerConfig(
        tenants=(
            TenantConfig(model="synthetic-sleep:service_ms=1"),
            TenantConfig(model="synthetic-sleep:service_ms=2", instances=2),
        )
    )
    with pytest.raises(RuntimeError, match="boom"), inprocess_server(config, tmp_path) as running:
        pids = [pid for pids in running.tenant_pids().values() for pid in pids]
        assert len(pids) == 2 and running.exit_code() is None
        raise RuntimeError("boom")
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert _workers(tmp_path) == []
    assert list((tmp_path / "inproc").glob("*.sock")) == []


def test_a_corrupt_model_fails_start_with_one_line_and_no_worker(tmp_path: Path) -> None:
    info = add_model("tiny-inproc", tiny_onnx(tmp_path / "tiny.onnx"))
    assert info.path is not None
    Path(info.path).write_bytes(b"garbage")
    config = ServerConfig(
        tenants=(TenantConfig(model="synthetic-sleep:service_ms=1"), TenantConfig(model="tiny-inproc"))
    )
    with pytest.raises(ServerError) as failed, inprocess_server(config, tmp_path / "run"):
        pytest.fail("a worker with a corrupt model must not start")
    message = str(failed.value)
    assert "\n" not in message
    assert "in-process worker for tiny-inproc exited (code 1) while starting" in message
    assert "INVALID_PROTOBUF" in message, message
    assert _workers(tmp_path) == []
