"""The planner end to end on the real embedded Triton: a profile of two tiny models measured (λ alone,
their pair's shared capacity), a fleet planned from it, and the plan deployed and measured
(`perseus plan --validate`): every tenant's latency judged against its own SLA."""

import json
from pathlib import Path

import pytest
import yaml

from tests.integration.helpers import cli, wait_gone

pytestmark = pytest.mark.integration

A, B = "synthetic-sleep:service_ms=5", "synthetic-sleep:service_ms=10"
PROFILE = {
    "name": "tiny profile",
    "kind": "profile",
    "models": [{"name": "fast", "model": A}, B],  # one named by the user, one by its spec's base
    # A p80: 25 latencies (5 above it) judge one, so 1.5 s trials judge a tenant down to ~25 req/s (a p95
    # needs 100 latencies: trials of 3.5 s for the pair's search to reach a rate both models meet).
    "sla": "p80=80ms",
    "profile": {"machine": "gcp-n2-standard-2"},
    "trial": {"warmup_s": 0.2, "min_duration_s": 1, "max_duration_s": 1.5, "tolerance": 0.5},
    "search": {"tolerance": 0.3, "max_probes": 3, "start_rps": 50},
    "telemetry_interval_s": 0.5,
}


def test_profile_then_plan_then_validate(tmp_path: Path, perseus_home: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(PROFILE))
    done = cli(["run", str(profile), "--no-report"])
    assert done.returncode == 0, done.stderr
    assert "Shared capacity of models co-located" in done.stdout

    plan = tmp_path / "fleet.yaml"
    tenants = [  # a model named by its name, the other by its spec: each keeps its name throughout
        # 20 req/s each: 2-3 s of validation give each tenant the 25 latencies its p80 needs, and more.
        {"name": "small", "model": "fast", "rate": 20, "sla": "p80=80ms"},
        {"name": "other", "model": B, "rate": 20, "sla": "p80=100ms"},
    ]
    plan.write_text(
        yaml.safe_dump(
            {"name": "tiny fleet", "profiles": ["tiny profile"], "validate_s": 2, "tenants": tenants}
        )
    )
    validated = cli(["plan", str(plan), "--validate", "--json"])
    assert validated.returncode == 0, validated.stderr
    data = json.loads(validated.stdout)
    # Two sleeping models at a fraction of their λ share one machine; alone they need two.
    assert len(data["machines"]) == 1 and data["dedicated_usd_per_h"] == pytest.approx(2 * data["usd_per_h"])
    assert data["lower_bound_usd_per_h"] <= data["usd_per_h"]
    (check,) = data["validated"]  # the blind plan is the same machine: measured once
    assert check["all_sla_met"] is True and check["verdict"] == data["verdict"] == "held"
    assert data["model_specs"] == {"fast": A, "synthetic-sleep": B}
    assert {t["name"]: t["model"] for t in check["tenants"]} == {"small": "fast", "other": "synthetic-sleep"}
    # The host's speed against the profile's, measured first: sleeping models serve the same either way.
    assert set(check["host_speed"]) == {"fast", "synthetic-sleep"}
    assert all(0.7 < ratio < 1.4 for ratio in check["host_speed"].values())
    assert {t["name"] for t in check["tenants"]} == {"small", "other"}
    for tenant in check["tenants"]:
        assert 0 < tenant["latency_ms"] <= float(tenant["sla"].removeprefix("p80=").removesuffix("ms"))
        assert tenant["qos_satisfaction"] > 0.9
    assert not wait_gone(perseus_home)

    # A fleet the machine cannot carry by the plan's own rates: still planned (more machines), and a tenant
    # whose SLA is stricter than the profile's is one line, naming what to do.
    strict = dict(tenants[0], sla="p95=5ms")
    plan.write_text(yaml.safe_dump({"name": "strict", "profiles": ["tiny profile"], "tenants": [strict]}))
    refused = cli(["plan", str(plan)])
    assert refused.returncode != 0
    assert "stricter than fast was profiled under (p80=80ms)" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
