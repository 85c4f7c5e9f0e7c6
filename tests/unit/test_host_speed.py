"""How fast the host was for a trial: CPU steal read from a fake /proc/stat (hand-computed cores), the
threshold above which a trial is INVALID (host busy), the reference speed's arithmetic, and both stored
with every trial and shown where a report lists trials (old trials without them show "-")."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

import perseus.orchestrate.trial as trial_module
from perseus.cli.bench_output import host_line
from perseus.core.progress import NullReporter
from perseus.core.reasons import Why
from perseus.experiments.analysis import Peak, Probe
from perseus.loadgen import LoadSpec, RequestRecord, TrialRecords, TrialRules
from perseus.orchestrate.bench import BenchResult
from perseus.report import fmt
from perseus.report.runs import bench_table
from perseus.report.table import probes_table
from perseus.store import Store, TrialSummary
from perseus.telemetry.host import LocalHost
from perseus.telemetry.speed import reference_speed, reference_work
from perseus.telemetry.steal import STEAL_BUSY_CORES, StealReading, parse_steal_ticks, read_steal, steal_cores

# Two snapshots of /proc/stat on a 2-vCPU VM, 2.5 s apart. Fields after `cpu`: user nice system idle
# iowait irq softirq steal guest guest_nice; the per-CPU lines and the rest must not be mistaken for it.
STAT_0 = """cpu  1000 20 300 40000 50 0 60 1200 0 0
cpu0 500 10 150 20000 25 0 30 600 0 0
cpu1 500 10 150 20000 25 0 30 600 0 0
intr 35456641 0 0 0
ctxt 122684052
btime 1796616264
softirq 32644050 0 1918253 6
"""
STAT_1 = """cpu  1100 20 310 40150 50 0 61 1450 0 0
cpu0 550 10 155 20075 25 0 30 725 0 0
cpu1 550 10 155 20075 25 0 31 725 0 0
intr 35456700 0 0 0
"""
MS = 1_000_000


def test_steal_is_the_eighth_field_of_the_aggregate_cpu_line() -> None:
    assert parse_steal_ticks(STAT_0) == 1200
    assert parse_steal_ticks(STAT_1) == 1450
    assert parse_steal_ticks("cpu  1 2 3 4 5 6 7\n") is None  # before Linux 2.6.11: no steal field
    assert parse_steal_ticks("cpu0 1 2 3 4 5 6 7 8\nintr 1\n") is None  # no aggregate line


def test_steal_cores_over_a_trial_from_two_snapshots(tmp_path: Path) -> None:
    first, last = tmp_path / "stat0", tmp_path / "stat1"
    first.write_text(STAT_0)
    last.write_text(STAT_1)
    at_0, at_1 = read_steal(first, hz=100), read_steal(last, hz=100)
    assert (at_0.steal_s, at_1.steal_s) == (12.0, 14.5)  # 1200 and 1450 ticks at 100 Hz
    # 1450 - 1200 = 250 ticks = 2.5 s of steal at 100 Hz, over 2.5 s of wall time: 1.0 core.
    assert steal_cores(StealReading(at_0.steal_s, 100.0), StealReading(at_1.steal_s, 102.5)) == 1.0
    # The same 250 ticks at 250 Hz are 1.0 s: over 2.5 s, 0.4 cores.
    at_0, at_1 = read_steal(first, hz=250), read_steal(last, hz=250)
    assert steal_cores(StealReading(at_0.steal_s, 0.0), StealReading(at_1.steal_s, 2.5)) == pytest.approx(0.4)


def test_steal_that_cannot_be_read_is_none(tmp_path: Path) -> None:
    missing = read_steal(tmp_path / "no-such-file")
    assert missing.steal_s is None
    assert steal_cores(missing, StealReading(1.0, missing.t_s + 1)) is None
    (tmp_path / "old").write_text("cpu  1 2 3 4 5 6 7\n")
    assert read_steal(tmp_path / "old").steal_s is None
    assert steal_cores(StealReading(1.0, 5.0), StealReading(1.0, 5.0)) == 0.0  # no time passed: no steal


def test_this_hosts_steal_and_speed_can_be_read() -> None:
    host = LocalHost()
    reading = host.steal()
    assert reading.steal_s is None or reading.steal_s >= 0
    assert host.speed_ops_s() > 0


class StepClock:
    """perf_counter_ns that advances by the given durations, one per call pair (start, end)."""

    def __init__(self, durations_ns: list[int]) -> None:
        self.now, self.steps = 0, iter(d for took in durations_ns for d in (0, took))

    def __call__(self) -> int:
        self.now += next(self.steps)
        return self.now


def test_the_reference_speed_is_its_fastest_repetition() -> None:
    # 3 repetitions of 1000 ops taking 4, 2 (the fastest) and 5 ms: 1000 ops / 2 ms = 500,000 ops/s.
    clock = StepClock([4 * MS, 2 * MS, 5 * MS])
    assert reference_speed(repeats=3, ops=1000, clock=clock) == 500_000.0
    assert reference_work(3) == reference_work(3) != reference_work(4)  # deterministic, and all of it runs


@dataclass
class FakeHost:
    """A host whose steal over the trial and whose reference speed the test chooses."""

    steal_s: tuple[float, float]
    wall_s: float
    speeds: list[float] = field(default_factory=lambda: [4_000_000.0, 3_000_000.0])

    def __post_init__(self) -> None:
        self._readings: Iterator[StealReading] = iter(
            [StealReading(self.steal_s[0], 50.0), StealReading(self.steal_s[1], 50.0 + self.wall_s)]
        )

    def steal(self) -> StealReading:
        return next(self._readings)

    def speed_ops_s(self) -> float:
        return self.speeds.pop(0)


RULES = TrialRules(warmup_s=0, min_duration_s=3, max_duration_s=3, window_s=1.0, min_window_requests=0)


def _steady_load(spec: LoadSpec, rules: TrialRules, tick: object, sla: object = None) -> TrialRecords:
    """100 req/s of 5 ms latencies for 4 s: a trial the rules judge VALID (tests/unit/test_rules.py)."""
    records = [RequestRecord("m", i * 10 * MS, i * 10 * MS, i * 10 * MS + 5 * MS, True) for i in range(400)]
    return TrialRecords(0, 0, 3000 * MS, records, measure_window_s=1.0)


def _trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: FakeHost) -> trial_module.TrialOutcome:
    monkeypatch.setattr(trial_module, "run_load", _steady_load)
    with Store(tmp_path / "results.db") as store:
        run_id = store.create_run("bench", {}, {})
        spec = LoadSpec(url="127.0.0.1:1", tenants=("m",))
        outcome = trial_module.run_trial(store, run_id, "t", spec, RULES, NullReporter(), gauge=host)
        [row] = store.trials(run_id)
    assert row.summary.host == outcome.host  # stored as the outcome says
    return outcome


def test_steal_at_the_threshold_keeps_a_trial_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert STEAL_BUSY_CORES == 0.10
    # 0.25 s stolen over 2.5 s: 0.10 cores, exactly the threshold, which is not above it.
    outcome = _trial(tmp_path, monkeypatch, FakeHost((50.0, 50.25), 2.5))
    assert outcome.status == "valid" and outcome.why == ()
    assert outcome.host["steal_cores"] == 0.1
    assert (outcome.host["host_speed_start_ops_s"], outcome.host["host_speed_end_ops_s"]) == (4e6, 3e6)


def test_steal_above_the_threshold_makes_a_trial_invalid_host_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0.2525 s stolen over 2.5 s: 0.101 cores, just above 0.10.
    outcome = _trial(tmp_path, monkeypatch, FakeHost((50.0, 50.2525), 2.5))
    assert outcome.status == "invalid"
    [busy] = outcome.why
    assert busy.kind == Why.HOST_BUSY
    assert busy.text == "host busy: the hypervisor took 0.10 cores (CPU steal)"
    assert busy.figures["steal_cores"] == pytest.approx(0.101)
    assert outcome.host["steal_cores"] == 0.101
    # 0.8 s over 2.5 s: 0.32 cores, as the sentence says.
    outcome = _trial(tmp_path / "b", monkeypatch, FakeHost((10.0, 10.8), 2.5))
    assert [r.text for r in outcome.why] == ["host busy: the hypervisor took 0.32 cores (CPU steal)"]


def test_steal_that_cannot_be_read_judges_nothing_and_is_not_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = _trial(tmp_path, monkeypatch, FakeHost((None, None), 2.5))  # type: ignore[arg-type]
    assert outcome.status == "valid" and "steal_cores" not in outcome.host
    assert outcome.host["host_speed_start_ops_s"] == 4e6  # the speed is still measured


def _probe(host: dict[str, float]) -> Probe:
    return Probe(7, "p", {"a": 10.0}, {"a": 10.0}, {"a": 20.0}, {"a": 1.0}, "valid", True, None, host=host)


def test_the_probe_table_shows_steal_and_speed_and_dashes_for_old_trials() -> None:
    new = _probe(
        {"steal_cores": 0.031, "host_speed_start_ops_s": 4_912_000, "host_speed_end_ops_s": 4_870_000}
    )
    old = _probe({})  # stored before these figures existed
    table = probes_table(Peak("a dedicated", {"a": 10.0}, {"a": 20.0}, "bisect", [new, old]))
    steal, speed = table.columns.index("CPU steal cores"), table.columns.index("host speed M ops/s")
    assert [row[steal].text for row in table.rows] == ["0.03", fmt.MISSING]
    assert [row[speed].text for row in table.rows] == ["4.91 → 4.87", fmt.MISSING]


def test_a_bench_report_says_how_the_host_was(tmp_path: Path) -> None:
    with Store(tmp_path / "results.db") as store:
        run_id = store.create_run("bench", {"mode": "closed", "tenants": ["m"], "url": "h:1"}, {})
        host = {
            "other_cores": 0.0,
            "steal_cores": 0.0,
            "host_speed_start_ops_s": 5e6,
            "host_speed_end_ops_s": 4e6,
        }
        tenants = {"m": {"throughput_rps": 10.0}}
        store.save_trial(
            run_id, "bench", {}, TrialRecords(0, 0, 1), TrialSummary(tenants, host=host), "valid"
        )
        old = store.create_run("bench", {"mode": "closed", "tenants": ["m"], "url": "h:1"}, {})
        store.save_trial(old, "bench", {}, TrialRecords(0, 0, 1), TrialSummary(tenants), "valid")
        notes = {r: [n.text for n in bench_table(store.run(r), store.trials(r)).notes] for r in (run_id, old)}
    assert "host: CPU steal 0.00 cores; reference speed 5.00 → 4.00 M ops/s" in notes[run_id]
    assert "host: CPU steal -; reference speed -" in notes[old]


def _bench(*hosts: dict[str, float]) -> BenchResult:
    levels = [SimpleNamespace(outcome=SimpleNamespace(host=host)) for host in hosts]
    return SimpleNamespace(levels=levels)  # type: ignore[return-value]  # all host_line reads


def test_bench_prints_the_host_on_one_line() -> None:
    one = {"steal_cores": 0.02, "host_speed_start_ops_s": 5.0e6, "host_speed_end_ops_s": 4.5e6}
    assert host_line(_bench(one)) == "host: CPU steal 0.02 cores; reference speed 5.00 → 4.50 M ops/s"
    # A sweep: the most any level lost to steal, the speed at the first level's start and the last's end.
    two = {"steal_cores": 0.05, "host_speed_start_ops_s": 4.4e6, "host_speed_end_ops_s": 4.0e6}
    assert host_line(_bench(one, two)) == (
        "host, all levels: CPU steal ≤ 0.05 cores; reference speed 5.00 → 4.00 M ops/s"
    )
    assert host_line(_bench({})) == "host: CPU steal -; reference speed -"  # not measured (a Ray-lost trial)
