"""Kind `profile` with `order: interleaved` over a model of a server (fake_server): each pair's blocks, the
shared capacity of each against its own block's λ alone, their median and spread, the order drawn per
block and drawn again the same on a resume, and the host's speed per block."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from perseus.config import ServerConfig
from perseus.core.errors import ConfigError
from perseus.core.progress import Reporter
from perseus.experiments import profile
from perseus.experiments.blocks import SET, block_order
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.report import render_results
from perseus.store import Store, TrialKey
from perseus.store.summary import SPEED_END, SPEED_START
from tests.unit.fake_server import FakeSession, replay_session, run_on

# Two 10 ms sleepers (one spec each: a profile holds each model once), so λ alone is the same for both
# and a pair's shares of work are half its total rate each, whichever λ alone its search starts from.
A, B = "synthetic-sleep:service_ms=10", "synthetic-sleep:service_ms=10.0"
KA, KB = "synthetic-sleep", "synthetic-sleep-2"  # their keys: a repeated base gets -2
# Every search starts at 90 req/s (search.start_rps), so each probe sequence below does not depend on
# where a pair's search would otherwise start (its members' λ alone known so far, or none yet).
SEARCH = {"tolerance": 0.05, "max_probes": 12, "start_rps": 90, "opening": "wide"}  # probes hand-computed
# Service times × this on each block's servers, by (block, whether alone), and each trial's host speed.
SLOW = {(1, True): 1.0, (1, False): 1.0, (2, True): 1.0, (2, False): 1.25, (3, True): 1.25, (3, False): 1.25}
SPEED = {(1, True): 1000.0, (1, False): 1000.0, (2, True): 1000.0, (2, False): 1150.0}  # else 800


def _exp(blocks: int = 3, **section: Any) -> Any:
    return parse_experiment(
        {
            "name": "p",
            "kind": "profile",
            "models": [A, B],
            "search": SEARCH,
            "sla": "p95=100ms",
            "profile": {"machine": "gcp-n2-standard-2", "order": "interleaved", "blocks": blocks, **section},
        },
        "test",
    )


class _HostStore:
    """The store, with each saved trial's host block set (fake_server stores none)."""

    def __init__(self, store: Store, host: dict[str, float]) -> None:
        self.store, self.host = store, host

    def save_trial(self, run_id: int, name: str, spec: Any, records: Any, summary: Any, *rest: Any) -> int:
        return self.store.save_trial(run_id, name, spec, records, replace(summary, host=self.host), *rest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@dataclass
class _BlockSession(FakeSession):
    stop_after: list[int] | None = None  # trials left before the session stops the run (None: never)

    def trial(self, store: Store, run_id: int, name: str, *rest: Any) -> None:
        key = TrialKey.from_json(rest[3]["key"])
        block = key.placement.setting.get("block", 1)  # the solo stage's servers: as block 1's
        where = (int(str(block)), key.placement.role == "dedicated")
        self.slowdown = SLOW[where]
        speed = SPEED.get(where, 800.0)
        if self.stop_after is not None:
            if self.stop_after[0] == 0:
                raise KeyboardInterrupt  # Ctrl-C part-way through a block
            self.stop_after[0] -= 1
        held: Any = _HostStore(store, {SPEED_START: speed, SPEED_END: speed})
        super().trial(held, run_id, name, *rest)


def _sessions(stop_after: int | None = None) -> Callable[..., Any]:
    left = None if stop_after is None else [stop_after]

    @contextmanager
    def session(config: ServerConfig, folder: Path, reporter: Reporter) -> Iterator[FakeSession]:
        yield _BlockSession(config, stop_after=left)

    return session


def _run(tmp_path: Path, exp: Any) -> tuple[profile.Findings, list[str], int, Store]:
    store = Store(tmp_path / "results.db")
    run_id, phases = run_on(store, exp, _sessions())
    assert phases.labels == profile.plan(exp)  # the plan names each block's steps by position
    results = experiment_results(store, run_id)
    assert isinstance(results.findings, profile.Findings)
    return results.findings, results.warnings, run_id, store


def test_each_block_reads_the_pair_against_its_own_lambda_alone(tmp_path: Path) -> None:
    exp = _exp()
    found, warnings, run_id, _ = _run(tmp_path, exp)
    # A 10 ms sleeper meets p95 = 10(1 + 3ρ/(1 − ρ)) ≤ 100 ms up to ρ = 0.75 (75 req/s): from 90 (no), 22.5
    # (yes), then 56.25 (yes), 73.125 (yes), 81.5625, 77.34375, 75.234375 (no): stop, λ 73.125. At 1.25×
    # (12.5 ms) up to ρ = 0.7 (56 req/s): 90 (no), 22.5, 56.25 (no), 39.375, 47.8125, 52.03125, 54.140625
    # (yes): 54.140625. The pair, each at half its total T, with no CPU between them: at 1× feasible up
    # to T = 150: 90, 180 (no), 135, 157.5 (no), 146.25, 151.875 (no): 146.25; at 1.25× up to T = 112:
    # 90, 180 (no), 135 (no), 112.5 (no), 101.25, 106.875, 109.6875: 109.6875.
    # e = Σ r/λ = 2 × (T/2)/λ = T/λ: block 1 146.25/73.125 = 2; block 2 (the pair's server slower, its
    # members' not) 109.6875/73.125 = 1.5; block 3 (all slower) 109.6875/54.140625 = 2.025974: the same
    # slowdown of both cancels, as it would not against block 1's λ alone (1.5).
    assert [b.number for b in found.blocks] == [1, 2, 3]
    assert [b.efficiency for b in found.blocks] == pytest.approx([2.0, 1.5, 2.025974], rel=1e-6)
    assert [{m: p.total_rps for m, p in b.alone.items()} for b in found.blocks] == [
        {KA: 73.125, KB: 73.125},
        {KA: 73.125, KB: 73.125},
        {KA: 54.140625, KB: 54.140625},
    ]
    (point,) = found.profile.colocations
    assert point.efficiency.value == pytest.approx(2.0)  # the median of 2, 1.5, 2.026
    assert point.efficiency.kind == "t90"  # three blocks: a t-interval of their spread
    assert point.efficiency.low < 1.5 and point.efficiency.high > 2.025974
    assert point.rates_rps == {KA: 73.125, KB: 73.125}  # block 1's, the median's: T = 146.25, half each
    # The profile's λ alone of each: the geometric mean of its three blocks', (73.125² × 54.140625)^(1/3)
    assert found.profile.models[KA].shared_rps.value == pytest.approx(66.1533, rel=1e-5)
    # The host's speed per block: block 2's pair ran at 1150 ops/s, its λ alone (14 trials) at 1000: a
    # median of 1000, moved 15% (> 10%: said); block 3 at 800 throughout.
    assert [b.speed_ops_s for b in found.blocks] == [1000.0, 1000.0, 800.0]
    assert [b.speed_moved for b in found.blocks] == pytest.approx([0.0, 0.15, 0.0])
    assert [w for w in warnings if "speed moved" in w] == [
        f"{found.blocks[1].group}, block 2: the host's speed moved 15% during the block (its λ alone "
        "and shared capacity may disagree)"
    ]
    # Each block ran in the order drawn for it from the run id, and not every block in the same one.
    orders = [b.order for b in found.blocks]
    (group,) = profile.groups(exp)
    assert orders == [tuple(block_order(run_id, group, n)) for n in (1, 2, 3)]
    assert all(sorted(o) == sorted((KA, KB, SET)) for o in orders)


def test_the_report_shows_each_block_with_the_host_speed(tmp_path: Path) -> None:
    store = Store(tmp_path / "results.db")
    run_id, _ = run_on(store, _exp(blocks=2), _sessions())
    console = Console(width=160, record=True, force_terminal=False)
    render_results(experiment_results(store, run_id), console)
    text = console.export_text()
    assert "Blocks: λ alone and shared capacity measured together" in text
    assert "1,000 (moved 15%)" in text  # block 2: its λ alone at 1000 ops/s, its pair at 1150


def test_two_blocks_give_their_median_and_range(tmp_path: Path) -> None:
    found, _, _, _ = _run(tmp_path, _exp(blocks=2))
    (point,) = found.profile.colocations
    # Blocks 1 and 2 (above): e = 2 and 1.5; the median 1.75, the interval their min–max.
    assert (point.efficiency.value, point.efficiency.low, point.efficiency.high) == (1.75, 1.5, 2.0)
    assert point.efficiency.kind == "min-max"


def test_the_order_is_drawn_per_block_and_again_the_same_on_a_resume(tmp_path: Path) -> None:
    exp = _exp(blocks=6)
    (group,) = profile.groups(exp)
    drawn = [tuple(block_order(1, group, n)) for n in range(1, 7)]
    assert len(set(drawn)) > 1  # not one order for every block
    assert drawn == [tuple(block_order(1, group, n)) for n in range(1, 7)]  # a stable hash, not `hash`
    assert any(tuple(block_order(2, group, n)) != drawn[n - 1] for n in range(1, 7))  # another run: anew
    # A run stopped part-way through its third block resumes with the same order: its blocks as run
    # are those of a run never stopped.
    whole, _, _, _ = _run(tmp_path / "whole", _exp(blocks=3))
    store = Store(tmp_path / "results.db")
    stopped = _exp(blocks=3)
    with pytest.raises(KeyboardInterrupt):
        run_on(store, stopped, _sessions(stop_after=50))
    (run,) = [r.id for r in store.runs()]
    run_on(store, stopped, _sessions(), run_id=run)
    again = experiment_results(store, run).findings
    assert isinstance(again, profile.Findings)
    assert [b.order for b in again.blocks] == [b.order for b in whole.blocks]
    assert [b.efficiency for b in again.blocks] == [b.efficiency for b in whole.blocks]
    run_on(store, stopped, replay_session, run_id=run)  # and everything is stored: nothing left to measure


def test_sequential_runs_store_the_spec_they_stored_before() -> None:
    exp = parse_experiment(
        {"name": "p", "kind": "profile", "models": [A, B], "profile": {"machine": "x"}}, "test"
    )
    assert set(exp.model_dump(mode="json")["profile"]) == {"machine", "solo", "pairs", "mixes", "sets"}
    assert exp.profile.order == "sequential"


def test_interleaved_settings_errors_are_one_line() -> None:
    base = {"name": "p", "kind": "profile", "models": [A, B]}
    with pytest.raises(ConfigError, match="order: interleaved needs blocks: N"):
        parse_experiment({**base, "profile": {"machine": "x", "order": "interleaved"}}, "f")
    with pytest.raises(ConfigError, match="blocks: is read only with order: interleaved"):
        parse_experiment({**base, "profile": {"machine": "x", "blocks": 3}}, "f")
    with pytest.raises(ConfigError, match=r"profile\.blocks"):
        parse_experiment({**base, "profile": {"machine": "x", "order": "interleaved", "blocks": 1}}, "f")
    with pytest.raises(ConfigError, match=r"profile\.order"):
        parse_experiment({**base, "profile": {"machine": "x", "order": "random"}}, "f")


def test_a_model_no_block_finds_a_rate_for_is_said_unmet(tmp_path: Path) -> None:
    """A 150 ms sleeper never meets p95 ≤ 100 ms: no block finds its λ alone nor a rate for the pair, so
    no block has an e and the profile says the model's SLA is unmet (the planner cannot place it)."""
    exp = parse_experiment(
        {
            "name": "p",
            "kind": "profile",
            "models": [A, "synthetic-sleep:service_ms=150"],
            "search": SEARCH,
            "sla": "p95=100ms",
            "profile": {"machine": "gcp-n2-standard-2", "order": "interleaved", "blocks": 2},
        },
        "test",
    )
    store = Store(tmp_path / "results.db")
    run_id, phases = run_on(store, exp, _sessions())
    assert phases.labels == profile.plan(exp)
    results = experiment_results(store, run_id)
    found = results.findings
    assert isinstance(found, profile.Findings)
    assert [b.efficiency for b in found.blocks] == [None, None]
    assert found.profile.colocations == ()
    assert dict(found.profile.unmet) == {KB: "p95=100ms"}
    assert set(found.profile.models) == {KA}


def test_with_knob_settings_the_solo_stage_searches_only_them(tmp_path: Path) -> None:
    """The blocks measure each model alone as configured; the solo stage after them searches only the
    further settings (and confirms each model's best), not as configured once more."""
    found, _, _, _ = _run(tmp_path, _exp(blocks=2, solo=[{"instances": 2}]))
    _, phases = run_on(Store(tmp_path / "again.db"), _exp(blocks=2, solo=[{"instances": 2}]), _sessions())
    assert len(phases.labels) == 2 * 3 + 2 + 2  # 2 blocks of 3 steps, 2 models at instances=2, 2 confirms
    assert [p for p in phases.labels if p.startswith("dedicated")] == [
        "dedicated synthetic-sleep (instances=2)",
        "dedicated synthetic-sleep-2 (instances=2)",
    ]
    # As configured: its two blocks' λ alone, 73.125 each (block 1 and 2 unslowed, as above).
    assert found.solo[KA]["defaults"].total_rps == 73.125
