"""The Sampler over fakes: a settable clock, a fake process table, scripted scrapes and a fake NVML."""

import threading
import time
from collections.abc import Callable

import pytest

from perseus.core.errors import EndpointError
from perseus.telemetry import HostTimes, ModelCounters, NvmlGpus, Sample, Sampler, TritonMetrics, breakdown
from tests.fixtures.telemetry_fakes import FakeClock, FakeNvml, FakeTable

HOUR_S = 3600.0  # an interval the background thread never reaches: only start/stop/sample_now sample


def _no_gpu() -> NvmlGpus:
    return NvmlGpus(FakeNvml([], init_error="NVML Shared Library Not Found"))


def _values(samples: list[Sample], source: str, tenant: str | None, metric: str) -> list[float]:
    return [s.value for s in samples if (s.source, s.tenant, s.metric) == (source, tenant, metric)]


def test_start_and_stop_samples_give_cpu_percent_and_seconds() -> None:
    clock, table = FakeClock(), FakeTable({1: (5.0, 1000), 2: (1.0, 500), 3: (0.0, 64)})
    table.host = HostTimes(100.0, 400.0)
    pids = {"a": [1, 2], "b": [3]}
    with Sampler(lambda: pids, None, HOUR_S, clock, processes=table, gpus=_no_gpu()) as sampler:
        clock.advance(2.0)
        table.burn(1, 1.0)
        table.burn(2, 0.5)
        table.host = HostTimes(101.0, 404.0)  # 1 of 4 core-seconds busy
    samples = sampler.samples
    assert {s.t_ns for s in samples} == {1_000_000_000, 3_000_000_000}
    assert _values(samples, "process", "a", "cpu_s") == [0.0, 1.5]
    assert _values(samples, "process", "a", "cpu_percent") == [75.0]  # 1.5 CPU-s in 2 s
    assert _values(samples, "process", "a", "rss_bytes") == [1500, 1500]
    assert _values(samples, "process", "a", "processes") == [2, 2]
    assert _values(samples, "process", "b", "cpu_percent") == [0.0]
    assert _values(samples, "host", None, "cpu_percent") == [25.0]
    assert (sampler.cpu_seconds("a"), sampler.cpu_seconds("b")) == (1.5, 0.0)
    assert sampler.notices == ["GPU telemetry skipped: no GPU: NVML Shared Library Not Found"]
    assert sampler.vanished() == {}
    assert sampler.first_metrics is None and sampler.last_metrics is None


def test_restarted_and_killed_processes() -> None:
    clock, table = FakeClock(), FakeTable({1: (5.0, 10), 2: (5.0, 10)})
    listed = {"a": [1, 2]}
    with Sampler(lambda: listed, None, HOUR_S, clock, processes=table, gpus=_no_gpu()) as sampler:
        clock.advance(1.0)
        table.burn(2, 0.5)
        sampler.sample_now()
        del table.procs[2]  # killed; the server restarts it as pid 7, which uses 0.25 s
        table.procs[7] = (0.25, 10)
        listed = {"a": [1, 7]}
        clock.advance(1.0)
    assert sampler.cpu_seconds("a") == 0.75
    assert sampler.vanished() == {"a": [2]}
    assert _values(sampler.samples, "process", "a", "cpu_percent") == [50.0, 25.0]


def test_a_listed_but_dead_process_is_a_notice() -> None:
    table = FakeTable({1: (0.0, 0)})
    with Sampler(lambda: {"a": [1]}, processes=table, interval_s=HOUR_S, gpus=_no_gpu()) as sampler:
        del table.procs[1]
    assert "a: process 1 is gone" in sampler.notices
    assert sampler.vanished() == {"a": [1]}
    assert _values(sampler.samples, "process", "a", "processes") == [1, 0]


def _scripted(results: list[TritonMetrics | Exception]) -> Callable[[str, float], TritonMetrics]:
    def scrape(url: str, timeout_s: float) -> TritonMetrics:
        assert url == "http://127.0.0.1:1/metrics" and timeout_s > 0
        result = results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    return scrape


def _metrics(success: float, executions: float, cpu: float) -> TritonMetrics:
    counters = ModelCounters(request_success=success, inference_count=success, exec_count=executions)
    return TritonMetrics(t_ns=0, models={"m": counters}, cpu_utilization=cpu)


def test_metrics_first_last_and_a_failed_scrape_is_a_notice() -> None:
    clock = FakeClock()
    timed_out = EndpointError("cannot read Triton metrics at x: timed out")
    scrape = _scripted([_metrics(10, 10, 0.5), timed_out, _metrics(50, 20, 0.9)])
    url = "http://127.0.0.1:1/metrics"
    with Sampler(
        dict, url, HOUR_S, clock, processes=FakeTable(), scrape_metrics=scrape, gpus=_no_gpu()
    ) as sampler:
        clock.advance(1.0)
        sampler.sample_now()  # the scrape fails: a notice, and sampling goes on
        clock.advance(1.0)
    assert sampler.first_metrics is not None and sampler.last_metrics is not None
    assert (sampler.first_metrics.t_ns, sampler.last_metrics.t_ns) == (1_000_000_000, 3_000_000_000)
    assert breakdown(sampler.first_metrics, sampler.last_metrics)["m"].avg_batch_size == 4.0
    assert _values(sampler.samples, "triton", "m", "request_success") == [10, 50]
    assert _values(sampler.samples, "triton", None, "cpu_utilization") == [0.5, 0.9]
    assert "Triton metrics: EndpointError: cannot read Triton metrics at x: timed out" in sampler.notices


def test_background_thread_samples_survives_failures_and_stops() -> None:
    calls = 0

    def flaky_pids() -> dict[str, list[int]]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("server gone\nfor a moment")
        return {"a": [1]}

    before = threading.active_count()
    table = FakeTable({1: (0.0, 0)})
    with Sampler(flaky_pids, interval_s=0.01, processes=table, gpus=_no_gpu()) as sampler:
        deadline = time.monotonic() + 10
        while calls < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert calls >= 8
    assert "processes: RuntimeError: server gone for a moment" in sampler.notices  # one line
    assert len(_values(sampler.samples, "process", "a", "cpu_s")) == calls - 1
    assert threading.active_count() == before
    times = [s.t_ns for s in sampler.samples]
    assert times == sorted(times)


def test_stops_even_when_the_block_raises_and_stop_is_idempotent() -> None:
    sampler = Sampler(dict, interval_s=0.01, processes=FakeTable(), gpus=_no_gpu())
    with pytest.raises(ValueError, match="boom"), sampler:
        raise ValueError("boom")
    count = len(sampler.samples)
    sampler.stop()
    assert len(sampler.samples) == count
    with pytest.raises(RuntimeError):
        sampler.start()
    with pytest.raises(ValueError):
        Sampler(dict, interval_s=0)


def test_gpus_are_sampled_and_a_failing_read_is_a_notice() -> None:
    nvml = FakeNvml([("GPU-a1", "NVIDIA T4", 40.0, 100, 1000)])
    clock = FakeClock()
    with Sampler(dict, None, HOUR_S, clock, processes=FakeTable(), gpus=NvmlGpus(nvml)) as sampler:
        assert nvml.initialised
        nvml.fail_reads = True
        sampler.sample_now()
        nvml.fail_reads = False
    assert not nvml.initialised  # closed at stop
    assert _values(sampler.samples, "gpu:0", None, "utilization_percent") == [40.0, 40.0]
    assert _values(sampler.samples, "gpu:0", None, "memory_used_bytes") == [100, 100]
    assert sampler.notices == ["GPU: RuntimeError: GPU is lost"]
