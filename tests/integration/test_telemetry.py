"""Telemetry against the real embedded tritonserver: per-tenant CPU agrees with /proc, /metrics shows
dynamic batching, a killed stub is noticed, and a missing GPU is a notice, not an error."""

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from perseus.config import ServerConfig, TenantConfig
from perseus.loadgen import LoadSpec, TrialRules, run_load
from perseus.serving import RunningServer, embedded_server
from perseus.telemetry import Sampler, available, breakdown
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration

BATCHED, UNBATCHED = "synthetic-cpu", "synthetic-cpu-2"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    model = "synthetic-cpu:dim=256:layers=4"
    config = ServerConfig(
        tenants=(
            TenantConfig(model=model, dynamic_batching=True, max_queue_delay_us=2000),
            TenantConfig(model=model),
        )
    )
    with embedded_server(config, tmp_path_factory.mktemp("telemetry-server")) as running:
        assert [t.name for t in running.tenants] == [BATCHED, UNBATCHED]
        yield running


def stubs_by_tenant(server: RunningServer) -> dict[str, list[int]]:
    """Independently of the serving layer's helper: a stub's argv[1] is `<repo>/<tenant>/1/model.py`."""
    found: dict[str, list[int]] = {}
    for pid in server.stub_pids():
        with_argv = psutil.Process(pid).cmdline()
        if len(with_argv) > 1 and with_argv[1].endswith("/model.py"):
            found.setdefault(Path(with_argv[1]).parent.parent.name, []).append(pid)
    return found


def proc_cpu_s(pids: list[int]) -> float:
    """utime + stime from /proc/<pid>/stat (fields 14 and 15, after the parenthesised command)."""
    total_ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total_ticks += int(fields[11]) + int(fields[12])
    return total_ticks / os.sysconf("SC_CLK_TCK")


def test_tenant_cpu_seconds_agree_with_proc(server: RunningServer) -> None:
    pids = stubs_by_tenant(server)
    assert set(pids) == {BATCHED, UNBATCHED}
    before_s = proc_cpu_s(pids[UNBATCHED])
    spec = LoadSpec(url=server.endpoints.grpc_url, tenants=(UNBATCHED,), concurrency=4)
    with Sampler(lambda: stubs_by_tenant(server), interval_s=0.5) as sampler:
        run_load(spec, TrialRules.fixed(4.5, 0.5))
    after_s = proc_cpu_s(pids[UNBATCHED])
    used_s = sampler.cpu_seconds(UNBATCHED)
    assert after_s - before_s > 1.0  # the tenant was busy, so the comparison means something
    assert used_s == pytest.approx(after_s - before_s, rel=0.10), (used_s, after_s - before_s)
    assert sampler.cpu_seconds(BATCHED) < 0.2 * used_s  # the idle tenant stayed idle
    series = [s for s in sampler.samples if (s.tenant, s.metric) == (UNBATCHED, "cpu_percent")]
    percents = [s.value for s in series]
    # ~5 s at 0.5 s: how many samples a starved sampler thread takes depends on the host; that it takes
    # several, and none faster than its cadence, does not. The thread's k-th sample is due k intervals
    # after the first (a late one is not made up in a burst): over a span S at most S / 0.5 + 1 of them,
    # one more for a first sample taken late, and the closing one.
    assert len(percents) >= 3
    span_s = (series[-1].t_ns - series[0].t_ns) / 1e9
    assert len(series) <= span_s / 0.5 + 3, (len(series), span_s)
    assert max(percents) <= 100.0 * (os.cpu_count() or 1) * 1.05
    assert sampler.vanished() == {}


@pytest.mark.parametrize(("tenant", "batched"), [(BATCHED, True), (UNBATCHED, False)])
def test_metrics_breakdown_shows_dynamic_batching(server: RunningServer, tenant: str, batched: bool) -> None:
    spec = LoadSpec(url=server.endpoints.grpc_url, tenants=(tenant,), concurrency=8)
    with Sampler(server.tenant_pids, server.endpoints.metrics_url, interval_s=0.5) as sampler:
        records = run_load(spec, TrialRules.fixed(2.0, 0.5))
    assert sampler.first_metrics is not None and sampler.last_metrics is not None
    part = breakdown(sampler.first_metrics, sampler.last_metrics)[tenant]
    # Every request the load generator sent was served inside the sampled interval.
    assert part.requests == sum(r.ok for r in records.records) and part.failures == 0
    assert part.avg_batch_size is not None
    if batched:
        assert part.avg_batch_size > 1.5, part
    else:
        assert part.avg_batch_size == 1.0 and part.executions == part.requests, part
    assert part.request_us is not None and part.queue_us is not None and part.compute_infer_us is not None
    assert part.queue_us + part.compute_infer_us <= part.request_us
    triton = [s for s in sampler.samples if s.source == "triton" and s.tenant == tenant]
    assert {s.metric for s in triton} >= {"request_success", "exec_count", "queue_duration_us"}
    assert not [n for n in sampler.notices if "Triton metrics" in n], sampler.notices


@pytest.mark.skipif(available()[0], reason="this machine has a GPU")
def test_absent_gpu_is_a_notice(server: RunningServer) -> None:
    with Sampler(server.tenant_pids, server.endpoints.metrics_url, interval_s=0.2) as sampler:
        # Until the sampler's thread has sampled once after the opening sample (the host's CPU is a
        # difference of two): then every source it reads has been read.
        wait_for(lambda: any(s.source == "host" for s in sampler.samples), "a second sample")
    [notice] = [n for n in sampler.notices if "GPU" in n]
    assert notice.startswith("GPU telemetry skipped: no GPU: ")
    assert not [s for s in sampler.samples if s.source.startswith("gpu")]
    assert {s.source for s in sampler.samples} == {"process", "host", "triton"}


def test_killed_stub_is_reported_as_vanished(tmp_path: Path) -> None:
    config = ServerConfig(tenants=(TenantConfig(model="synthetic-sleep:service_ms=5", instances=2),))
    with embedded_server(config, tmp_path / "run") as server:
        ours = [psutil.Process(pid) for pid in [server.pid, *server.stub_pids()]]
        with Sampler(server.tenant_pids, interval_s=0.2) as sampler:
            [tenant] = server.tenant_pids()
            victim = server.tenant_pids()[tenant][0]
            os.kill(victim, signal.SIGKILL)
            # Until a sample counts the tenant's processes one fewer (the sampler thread's next one).
            wait_for(
                lambda: [s.value for s in sampler.samples if s.metric == "processes"][-1] == 1,
                "a sample without the killed stub",
            )
        assert sampler.vanished() == {tenant: [victim]}
        counts = [s.value for s in sampler.samples if s.metric == "processes"]
        assert counts[0] == 2 and counts[-1] == 1
    assert not [p for p in ours if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
