"""`perseus demo` end to end on synthetic models (the real one uses ResNet-50 and MobileNetV2)."""

import json
from pathlib import Path

import pytest

from perseus.store import Store
from tests.integration.helpers import cli, our_server_processes

pytestmark = pytest.mark.integration


def test_demo_on_synthetic_models(tmp_path: Path, perseus_home: Path) -> None:
    db = tmp_path / "results.db"
    result = cli(
        [
            "demo",
            "--models",
            "synthetic-sleep:service_ms=10,synthetic-cpu",
            "--concurrency",
            "1,2",
            "--trial-s",
            "1.5",
            "--warmup-s",
            "0.5",
            "--json",
            "--db",
            str(db),
        ]
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    rows = {r["model"]: r for r in summary["rows"]}
    assert set(rows) == {"synthetic-sleep:service_ms=10", "synthetic-cpu"}
    machines = sum(r["shared_rps"] / r["dedicated_rps"] for r in rows.values())
    assert summary["saving"] == pytest.approx(1 - 1 / machines)
    # Equal request share: each virtual user alternates the two models.
    sleep, cpu = rows["synthetic-sleep:service_ms=10"], rows["synthetic-cpu"]
    assert sleep["shared_rps"] == pytest.approx(cpu["shared_rps"], rel=0.1)
    # One instance of a 10 ms sleep serves at most 100 req/s.
    assert 60 <= sleep["dedicated_rps"] <= 101
    with Store(db) as store:
        run = store.run(summary["run_id"])
        assert run.status == "done" and run.kind == "demo"
        assert run.provenance["versions"]["tritonserver"] == "2.51.0"
        assert run.provenance["host"]["logical_cpus"] >= 1
        trials = store.trials(run.id)
        assert len(trials) >= 3
        records = store.trial_records(trials[0].id)
        assert len(records.records) >= trials[0].summary["*"]["requests"] > 0
    assert our_server_processes(perseus_home) == []
