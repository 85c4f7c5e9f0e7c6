"""The demo's numbers from stored trials: best level within the SLA, VALID first, INVALID flagged."""

from pathlib import Path

import pytest

from perseus.core.errors import SlaNotMetError
from perseus.cost import summarize_demo
from perseus.loadgen import TrialRecords
from perseus.store import Store


def _row(rps: float, p95: float) -> dict[str, float]:
    return {"throughput_rps": rps, "p95_ms": p95, "requests": 100, "errors": 0}


def _store(
    tmp_path: Path, trials: list[tuple[str, list[str], list[str], dict[str, dict[str, float]], str]]
) -> int:
    with Store(tmp_path / "r.db") as store:
        run_id = store.create_run(
            "demo", {"models": ["a", "b"], "sla_p95_ms": 100.0, "price_usd_per_h": 3.6, "machine": "m"}, {}
        )
        for name, models, tenants, summary, status in trials:
            placement = "multitenant" if len(models) == 2 else "dedicated"
            total = {"*": _row(sum(s["throughput_rps"] for s in summary.values()), 0)}
            store.save_trial(
                run_id,
                name,
                {"placement": placement, "models": models, "tenants": tenants, "concurrency": 1},
                TrialRecords(0, 0, 1),
                {**summary, **total},
                status,
                None if status == "valid" else "unstable: noisy",
            )
        return run_id


def test_saving_and_costs_from_the_best_levels(tmp_path: Path) -> None:
    run_id = _store(
        tmp_path,
        [
            ("dedicated/a/c=1", ["a"], ["a"], {"a": _row(40, 50)}, "valid"),
            ("dedicated/a/c=2", ["a"], ["a"], {"a": _row(50, 90)}, "valid"),
            ("dedicated/a/c=4", ["a"], ["a"], {"a": _row(55, 150)}, "valid"),  # over the SLA
            ("dedicated/b/c=1", ["b"], ["b"], {"b": _row(80, 20)}, "valid"),
            ("multitenant/c=1", ["a", "b"], ["a", "b"], {"a": _row(30, 60), "b": _row(40, 30)}, "valid"),
        ],
    )
    with Store(tmp_path / "r.db") as store:
        summary = summarize_demo(store, run_id)
    rows = {r.model: r for r in summary.rows}
    assert rows["a"].dedicated_rps == 50 and rows["b"].dedicated_rps == 80
    assert summary.saving == pytest.approx(1 - 1 / (30 / 50 + 40 / 80))
    assert rows["a"].dedicated_usd_per_1m == pytest.approx(3.6 / 3600 / 50 * 1e6)
    assert rows["a"].shared_usd_per_1m == pytest.approx(3.6 / 3600 / 70 * 1e6)
    assert summary.warnings == []


def test_invalid_only_levels_are_used_but_flagged(tmp_path: Path) -> None:
    run_id = _store(
        tmp_path,
        [
            ("dedicated/a/c=1", ["a"], ["a"], {"a": _row(40, 50)}, "invalid"),
            ("dedicated/b/c=1", ["b"], ["b"], {"b": _row(80, 20)}, "valid"),
            ("multitenant/c=1", ["a", "b"], ["a", "b"], {"a": _row(30, 60), "b": _row(40, 30)}, "valid"),
        ],
    )
    with Store(tmp_path / "r.db") as store:
        summary = summarize_demo(store, run_id)
    assert not next(r for r in summary.rows if r.model == "a").dedicated_valid
    assert (
        len(summary.warnings) == 1 and "INVALID" in summary.warnings[0] and "unstable" in summary.warnings[0]
    )


def test_sla_never_met_is_a_clear_error(tmp_path: Path) -> None:
    run_id = _store(
        tmp_path,
        [
            ("dedicated/a/c=1", ["a"], ["a"], {"a": _row(40, 500)}, "valid"),
            ("dedicated/b/c=1", ["b"], ["b"], {"b": _row(80, 20)}, "valid"),
            ("multitenant/c=1", ["a", "b"], ["a", "b"], {"a": _row(30, 60), "b": _row(40, 30)}, "valid"),
        ],
    )
    with (
        Store(tmp_path / "r.db") as store,
        pytest.raises(SlaNotMetError, match="a dedicated: no load level met"),
    ):
        summarize_demo(store, run_id)
