"""A profile in interleaved blocks on the real embedded Triton: two tiny sleeping models, two blocks, each
measuring λ alone of both and the pair in the order drawn for it from the run id, on servers of their
own; the pair's shared capacity is its blocks' median within their range, and every block knows the
host's speed while it ran. Judged by the stored trials, never by how fast the host is."""

from pathlib import Path

from perseus.core.progress import NullReporter
from perseus.experiments import profile
from perseus.experiments.blocks import SET, block_order
from perseus.experiments.registry import parse_experiment
from perseus.experiments.results import experiment_results
from perseus.orchestrate.runner import run_experiment
from perseus.store import Store
from perseus.store.summary import speed_of

A, B = "synthetic-sleep:service_ms=5", "synthetic-sleep:service_ms=10"


def test_a_pair_measured_in_two_randomized_blocks(tmp_path: Path, perseus_home: Path) -> None:
    exp = parse_experiment(
        {
            "name": "tiny blocks",
            "kind": "profile",
            "models": [{"name": "fast", "model": A}, B],
            # As tests/integration/test_planner.py's tiny profile: a p80 judges a tenant on 25 latencies.
            "sla": "p80=80ms",
            "profile": {"machine": "gcp-n2-standard-2", "order": "interleaved", "blocks": 2},
            "trial": {"warmup_s": 0.2, "min_duration_s": 1, "max_duration_s": 1.5, "tolerance": 0.5},
            "search": {"tolerance": 0.3, "max_probes": 2, "start_rps": 50},
            "telemetry_interval_s": 0.5,
        },
        "test",
    )
    store = Store(tmp_path / "results.db")
    run_id = run_experiment(exp, store, NullReporter())
    results = experiment_results(store, run_id)
    found = results.findings
    assert isinstance(found, profile.Findings)
    (group,) = profile.groups(exp)
    assert [b.number for b in found.blocks] == [1, 2]
    for block in found.blocks:
        assert block.order == tuple(block_order(run_id, group, block.number))  # as drawn, on the real lab
        assert sorted(block.order) == sorted(("fast", "synthetic-sleep", SET))
        assert block.speed_ops_s is not None and block.speed_ops_s > 0
    # Every trial of the pass (probes and closed-loop looks) recorded the host's speed.
    assert all(speed_of(t.summary.host) is not None for t in store.trials(run_id))
    measured = sorted(b.efficiency for b in found.blocks if b.efficiency is not None)
    (point,) = found.profile.colocations
    if len(measured) == 2:  # two blocks: the median between them, the interval their range
        assert (point.efficiency.low, point.efficiency.high) == (measured[0], measured[1])
        assert point.efficiency.value == (measured[0] + measured[1]) / 2
    assert set(found.profile.models) == {"fast", "synthetic-sleep"}
    store.close()
