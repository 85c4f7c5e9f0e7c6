"""`perseus plan --validate` re-plans on the real embedded Triton when the host is slower than profiled: a
profile "measured on a host twice as fast" (fake_server, every service time halved) of a sleeping model,
a fleet it packs onto one machine, validated here where the model sleeps its full 10 ms. The validation
measures the host at about half the profile's speed, the plan misses (its rates exceed what a 10 ms
sleeper serves at all), and the re-plan for today's speed spreads them over two machines and holds."""

import json
from pathlib import Path

import pytest
import yaml

from perseus.experiments.registry import parse_experiment
from perseus.store import Store
from tests.integration.helpers import cli, wait_gone
from tests.unit.fake_server import drifting_session, run_on

pytestmark = pytest.mark.integration

MODEL = "synthetic-sleep:service_ms=10"
MACHINE = "gcp-n2-standard-2"


def test_a_plan_missed_on_a_slower_host_is_replanned_and_measured(tmp_path: Path, perseus_home: Path) -> None:
    db = tmp_path / "results.db"
    profile = parse_experiment(
        {
            "name": "fast host",
            "kind": "profile",
            "models": [MODEL],
            "sla": "p95=100ms",
            "search": {"tolerance": 0.05, "max_probes": 12},
            "profile": {"machine": MACHINE},
        },
        "test",
    )
    with Store(db) as store:
        run_on(store, profile, drifting_session([0.5]))  # 5 ms a request: about 200 req/s closed loop
    plan = tmp_path / "fleet.yaml"
    tenants = [{"name": n, "model": "synthetic-sleep", "rate": 50, "sla": "p95=100ms"} for n in ("a", "b")]
    plan.write_text(
        yaml.safe_dump({"name": "f", "profiles": ["fast host"], "validate_s": 4, "tenants": tenants})
    )

    done = cli(["plan", str(plan), "--validate", "--machine", MACHINE, "--json", "--db", str(db)])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads(done.stdout)
    # As profiled, 100 req/s fit one machine; here one 10 ms sleeper serves under 100 req/s: missed.
    assert len(data["machines"]) == 1 and data["verdict_as_profiled"] == "missed"
    # Here the sleeper serves its 1 instance / (10 ms + overhead) closed loop, against 1 / 5 ms profiled.
    speed = data["replanned"]["host_speed"]
    assert 0.2 < speed < 0.85
    assert len(data["replanned"]["machines"]) >= 2
    assert [v["plan"] for v in data["validated"]] == [
        "f (interference-aware)",
        "f (re-planned for today's speed)",
    ]
    replanned = data["validated"][1]
    assert data["verdict"] == replanned["verdict"] == "held"
    served = {t["name"]: 0.0 for t in replanned["tenants"]}
    for t in replanned["tenants"]:
        served[t["name"]] += t["rate_rps"]
    assert served == pytest.approx({"a": 50.0, "b": 50.0})  # every tenant's whole rate, re-placed
    assert not wait_gone(perseus_home)
