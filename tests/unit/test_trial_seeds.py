"""Every trial an experiment sends draws its own arrival schedule, from a seed derived from its run and key
and stored with it: repeats, confirmations, retries and probes of other placements or purposes at one
rate never replay one schedule, and the same run and key draw the same one again.

Before, every first attempt was sent with seed 0 (`open_loop(..., attempt)`), so the repeats of a search,
which probe the same rates, replayed the same arrivals: their spread, which gives λ its interval, left
out the schedule's share of the noise."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from perseus.config import ServerConfig
from perseus.core.progress import Reporter
from perseus.experiments.registry import parse_experiment
from perseus.loadgen import LoadSpec, derive_seed
from perseus.orchestrate.bench_plan import BenchSettings, plan_bench
from perseus.orchestrate.probe import trial_seed
from perseus.orchestrate.trial import spec_record
from perseus.store import Placement, Store, TrialKey
from tests.unit.fake_server import FakeSession, run_on
from tests.unit.test_kinds import FAST, QUICK

ALONE = Placement("dedicated", (("a", "m"),))


class SeedRecorder(FakeSession):
    """The model of a server, storing each trial's load settings as the real session does (spec_record),
    so the stored spec says which seed its arrivals were drawn from."""

    def trial(
        self, store: Store, run_id: int, name: str, make_spec: Callable[[Any], LoadSpec], *rest: Any
    ) -> None:
        rules, sla, extra = rest[:3]
        spec = make_spec(self.server())
        stored = {**spec_record(spec, rules, sla), **(extra or {})}
        super().trial(store, run_id, name, lambda _: spec, rules, sla, stored, *rest[3:])


def recording(doubt_first: bool) -> Callable[..., Any]:
    @contextmanager
    def session(config: ServerConfig, folder: Path, reporter: Reporter) -> Iterator[SeedRecorder]:
        # slowdown 1: every pass runs at one speed (not the fake's pass rule): repeats probe the same rates
        yield SeedRecorder(config, doubt_first=doubt_first, slowdown=1.0)

    return session


def _seeds(store: Store, run_id: int) -> dict[str, int]:
    """The seed stored with each open-loop trial of the run, by trial name."""
    return {t.name: t.spec["seed"] for t in store.trials(run_id) if t.spec.get("mode") == "open"}


def _peak_run(store: Store, run_id: int | None = None) -> int:
    """λ of one model searched twice (repeats: 2), every probe's first attempt in doubt (so retried)."""
    exp = parse_experiment({"name": "s", **QUICK, "kind": "peak", "models": [FAST], "repeats": 2}, "t")
    rid, _ = run_on(store, exp, recording(doubt_first=True), run_id)
    return rid


def test_repeats_and_retries_of_a_search_draw_distinct_recorded_seeds(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as store:
        run_id = _peak_run(store)
        seeds = _seeds(store, run_id)
        keys = {t.name: t.key for t in store.trials(run_id) if t.name in seeds}
    assert len(seeds) >= 8, seeds  # two searches of several probes, each measured twice
    assert len(set(seeds.values())) == len(seeds), seeds  # no two trials share a schedule
    # Each stored seed is the one its run and key give (the spec records what was drawn).
    assert all(seeds[name] == trial_seed(run_id, key) for name, key in keys.items() if key is not None)
    # The model of a server is deterministic, so both repeats probe the same rates: the case that
    # replayed one schedule before. The same rate, the same attempt, two repeats: two seeds.
    by_probe: dict[tuple[Any, ...], set[int]] = {}
    for name, key in keys.items():
        assert key is not None
        by_probe.setdefault((tuple(key.offered.items()), key.attempt), set()).add(seeds[name])
    assert any(len(s) == 2 for s in by_probe.values()), by_probe
    retried = [k for k in keys.values() if k is not None and k.attempt == 1]
    assert retried and all(
        seeds[k.name()] != seeds[k.with_attempt(0).name()] for k in retried
    )  # a retry draws anew


def test_the_same_run_draws_the_same_seeds_and_a_fresh_run_new_ones(tmp_path: Path) -> None:
    """Reproducible: run 1 of another store draws exactly what run 1 drew. A --fresh run of the same
    experiment (run 2, same keys) draws its own, so its findings are not the first run's noise again."""
    with Store(tmp_path / "a.db") as first, Store(tmp_path / "b.db") as again:
        original = _seeds(first, _peak_run(first))
        assert _seeds(again, _peak_run(again)) == original
        fresh = _seeds(first, _peak_run(first))  # same store, no resume: a new run id
    assert fresh.keys() == original.keys()
    assert not set(fresh.values()) & set(original.values())


@pytest.mark.parametrize(
    "other",
    [
        TrialKey(ALONE, "peak", {}, {"a": 10.0}, attempt=1),  # a retry
        TrialKey(Placement("dedicated", (("a", "m"),), {"repeat": 2}), "peak", {}, {"a": 10.0}),
        TrialKey(Placement("dedicated", (("a", "m"),), {"confirm": 1}), "peak", {}, {"a": 10.0}),
        TrialKey(ALONE, "capacity", {}, {"a": 10.0}),  # another search at the same rate
        TrialKey(ALONE, "peak", {"fraction": 0.5}, {"a": 10.0}),  # the same purpose, other parameters
        TrialKey(Placement("dedicated", (("a", "n"),)), "peak", {}, {"a": 10.0}),  # another model
        TrialKey(ALONE, "peak", {}, {"a": 10.0001}),  # the next probe of a bisection
    ],
    ids=["retry", "repeat", "confirmation", "purpose", "params", "placement", "rate"],
)
def test_a_seed_differs_with_anything_that_names_the_trial(other: TrialKey) -> None:
    key = TrialKey(ALONE, "peak", {}, {"a": 10.0})
    assert trial_seed(1, key) != trial_seed(1, other)
    assert trial_seed(1, key) == trial_seed(1, TrialKey(ALONE, "peak", {}, {"a": 10.0}))  # same key


def test_derived_seeds_are_stable_across_hosts_and_versions() -> None:
    """Pinned values: a resumed run must draw, for the trials it has left, what it would have drawn on
    the host and the release that started it (a stable hash, not Python's per-process salted hash()).
    Computed once outside perseus: int.from_bytes(blake2b(json.dumps(parts), digest_size=8)) >> 11."""
    assert derive_seed(1, "x") == 4785381630565792
    assert derive_seed(0, "bench r=10") == 1959772515132585
    assert 0 <= derive_seed(2**40, "y" * 1000) < 2**53  # exact as a JSON double


def _sweep_seeds(seed: int) -> list[int]:
    plan = plan_bench(BenchSettings(url="h:1", models=("m",), request_rate_range="10:40:10", seed=seed))
    return [level.spec.seed for level in plan.levels]


def test_each_level_of_a_rate_sweep_draws_its_own_seed_and_a_lone_trial_keeps_the_given_one() -> None:
    """A sweep's levels at one --seed used to replay one schedule, its gaps scaled by each rate."""
    seeds = _sweep_seeds(5)
    assert len(seeds) == 4 and len(set(seeds)) == 4, seeds
    assert _sweep_seeds(5) == seeds  # reproducible from --seed
    assert not set(_sweep_seeds(6)) & set(seeds)  # and --seed still chooses them
    lone = plan_bench(BenchSettings(url="h:1", models=("m",), rate=10.0, seed=5))
    assert [level.spec.seed for level in lone.levels] == [5]
