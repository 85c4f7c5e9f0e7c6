"""Scale-out without a cluster: the lab's `each` (order, errors after all finished, a lost node's work run
again), per-actor lateness in the verdict, loopback reachability, and `--ray` without the extra."""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.core.errors import ConfigError, NodeLostError, SlaNotMetError
from perseus.core.histogram import decode, encode, histogram_of, merged
from perseus.core.progress import NullReporter
from perseus.core.reasons import Why
from perseus.core.records import RequestRecord, Sender, TrialRecords
from perseus.loadgen import ALL, TrialRules, summarize, verdict
from perseus.loadgen.ray_workers import _Pump
from perseus.orchestrate.cluster import Cluster, ray_module, reachable_from_every_node
from perseus.orchestrate.runner import REQUEUES, ServerLab
from perseus.store import Store
from tests.integration.helpers import assert_one_line_error, cli
from tests.unit.fake_server import fake_session

MS = 1_000_000


def _lab(tmp_path: Path, parallel: int) -> ServerLab:
    store = Store(tmp_path / "r.db")
    return ServerLab(store, 1, None, NullReporter(), tmp_path, [], session=fake_session, parallel=parallel)  # type: ignore[arg-type]


@pytest.mark.parametrize("parallel", [1, 3])
def test_each_keeps_order_and_raises_the_first_error_after_every_item_ran(
    tmp_path: Path, parallel: int
) -> None:
    lab, ran = _lab(tmp_path, parallel), []

    def work(item: int) -> int:
        ran.append(item)
        if item in (1, 3):
            raise SlaNotMetError(f"item {item}")
        return item * 10

    assert lab.each([0, 2, 4], work) == [0, 20, 40]
    with pytest.raises(SlaNotMetError, match="item 1"):
        lab.each([0, 1, 2, 3, 4], work)
    assert sorted(ran[3:]) == [0, 1, 2, 3, 4]  # every item ran, the failing ones too


@pytest.mark.parametrize("parallel", [1, 2])
def test_a_placement_whose_node_was_lost_runs_again(tmp_path: Path, parallel: int) -> None:
    lab, tries = _lab(tmp_path, parallel), {"a": 0, "b": 0}

    def work(item: str) -> str:
        tries[item] += 1
        if item == "b" and tries[item] == 1:
            raise NodeLostError("node x was lost")
        return item

    assert lab.each(["a", "b"], work) == ["a", "b"]
    assert tries == {"a": 1, "b": 2}

    def always_lost(item: str) -> str:
        raise NodeLostError("node x was lost")

    with pytest.raises(NodeLostError):
        lab.each(["a"], always_lost)
    assert REQUEUES >= 2


def _sends(start_ms: int, late_ms: float, n: int = 100) -> list[RequestRecord]:
    return [
        RequestRecord("m", (start_ms + 10 * i) * MS, (start_ms + 10 * i) * MS + round(late_ms * MS), 0, True)
        for i in range(n)
    ]


def test_one_late_actor_makes_the_trial_invalid_though_the_merge_looks_fine() -> None:
    keeping_up = _sends(0, 0.1, 1000)
    behind = _sends(5, 3.0, 20)  # 20 of 1020 merged sends are late: under 2%, but all of actor 1's
    records = sorted(keeping_up + behind, key=lambda r: r.intended_ns)
    records = [RequestRecord(r.tenant, r.intended_ns, r.send_ns, r.send_ns + 5 * MS, True) for r in records]
    trial = TrialRecords(0, 0, 10_000 * MS, records, measure_window_s=1.0)
    rules = TrialRules(
        warmup_s=0, min_duration_s=1, max_duration_s=10, late_threshold_ms=2.0, max_late_fraction=0.03
    )
    assert verdict(trial, rules)[0] == "valid"
    trial.senders = [Sender(0, "n0", "h", keeping_up, 0), Sender(1, "n1", "h", behind, 0)]
    status, reasons = verdict(trial, rules)
    (late,) = [r for r in reasons if r.kind == Why.ACTOR_BEHIND]
    assert status == "invalid" and late.text.startswith("load actor 1 on n1 fell behind: 100.0%")
    assert (late.figures["worker"], late.figures["node"], late.figures["late_fraction"]) == (1, "n1", 1.0)


def test_a_loopback_endpoint_is_refused_when_nodes_live_elsewhere() -> None:
    here = Cluster("127.0.0.1:6379", [], False, ["127.0.0.1"])
    reachable_from_every_node("127.0.0.1:8001", here)
    away = Cluster("10.0.0.5:6379", [], False, ["10.0.0.5", "10.0.0.6"])
    reachable_from_every_node("10.0.0.5:8001", away)
    with pytest.raises(ConfigError, match=r"on loopback, which nodes 10\.0\.0\.5, 10\.0\.0\.6 cannot reach"):
        reachable_from_every_node("localhost:8001", away)


def test_ray_without_the_extra_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(ConfigError, match=r"--ray needs Ray, an optional extra: pip install -e '\.\[ray\]'"):
        ray_module()
    shadow = tmp_path / "shadow" / "ray"  # a Python where Ray is not installed: its import fails
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    experiment = tmp_path / "e.yaml"
    experiment.write_text("name: e\nkind: peak\nmodels: [synthetic-sleep]\nsla: p95=100ms\n")
    env = {**os.environ, "PYTHONPATH": str(shadow.parent), "PERSEUS_HOME": str(tmp_path / "home")}
    for args in (["run", str(experiment)], ["bench", "--backend", "embedded", "--model", "synthetic-sleep"]):
        done = cli([*args, "--ray", "auto", "--db", str(tmp_path / "r.db")], timeout=60, env=env)
        assert_one_line_error(
            done, "--ray needs Ray, an optional extra: pip install -e '.[ray]' (make test installs it)"
        )
        assert done.returncode == ConfigError.exit_code
    assert Store(tmp_path / "r.db").runs() == []  # nothing stored, no server started


def test_a_profile_measures_on_nodes_of_its_machine_type_when_nodes_declare_one() -> None:
    def node(*machines: str) -> dict[str, object]:
        return {"ray_node_id": "x", "ip": "127.0.0.1", "hostname": "h", "machines": list(machines)}

    undeclared = Cluster("a:1", [node(), node()], False, ["127.0.0.1"])
    assert undeclared.for_machine("gcp-n2-standard-2") == ({}, 2)  # as one host: the run names the type
    mixed = Cluster("a:1", [node("n2-2"), node("n2-4"), node("n2-4")], False, ["127.0.0.1"])
    assert mixed.for_machine("n2-4") == ({"perseus_machine_n2-4": 1}, 2)
    assert mixed.for_machine(None) == ({}, 3)  # not a profile: any measuring node
    with pytest.raises(ConfigError, match="no measuring node of this Ray cluster is of machine type c5"):
        mixed.for_machine("c5")


@pytest.mark.parametrize(
    ("address", "line", "code"),
    [
        ("127.0.0.1:1", "no Ray cluster at 127.0.0.1:1: [Errno 111] Connection refused", 5),
        ("nonsense", "--ray must be auto or HOST:PORT (a Ray head's address), got 'nonsense'", 2),
    ],
)
def test_a_cluster_that_is_not_there_is_one_line_at_once(
    tmp_path: Path, address: str, line: str, code: int
) -> None:
    env = {**os.environ, "PERSEUS_HOME": str(tmp_path / "home")}
    done = cli(["bench", "--backend", "embedded", "--model", "synthetic-sleep", "--ray", address], 60, env)
    assert_one_line_error(done, line)
    assert done.returncode == code


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 2 * 10**9 - 1), st.integers(1_000, 10**9)), max_size=40),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(-(10**12), 10**12), min_size=4, max_size=4),
)
def test_actors_records_on_the_drivers_clock_merge_as_their_histograms(
    parts: list[list[tuple[int, int]]], offsets: list[int]
) -> None:
    """Each actor's clock is off the driver's by its own offset; once the pump moved its records onto the
    driver's clock, the trial's histogram is, bucket for bucket, the merge of each actor's own."""
    pump = _Pump(actors=[None] * len(parts), offsets=offsets[: len(parts)], nodes=[("n", "h")] * len(parts))
    pump.per_actor, pump.cpu_ns = [[] for _ in parts], [0 for _ in parts]
    for index, part in enumerate(parts):
        shift = offsets[index]
        fields = [("m", t - shift, t - shift, t - shift + latency, True, None) for t, latency in part]
        pump._forward(index, [("records", fields)])
    moved = [record for actor in pump.per_actor for record in actor]
    assert all(0 <= r.intended_ns < 2 * 10**9 for r in moved)
    trial = TrialRecords(0, 0, 2 * 10**9, moved)
    whole = summarize(trial)[ALL]
    each = merged(histogram_of(latency for _, latency in part) for part in parts)
    assert whole.requests == sum(len(part) for part in parts)
    assert decode(whole.histogram).get_total_count() == each.get_total_count()
    assert whole.histogram == encode(each) or each.get_total_count() == 0
