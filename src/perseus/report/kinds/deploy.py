"""Drawing kind `deploy`: each planned machine as measured, every tenant's latency against its own SLA,
beside the load the capacity model predicted."""

from typing import Any

from perseus.experiments.deploy import DRIFT, Findings, TenantCheck
from perseus.report import fmt
from perseus.report.fmt import Headline
from perseus.report.kinds import findings_of
from perseus.report.table import Cell, TableData, Tone, plain


def deployed_table(found: Findings) -> TableData:
    rows = []
    for machine in found.machines:
        for tenant in machine.tenants:
            qos = tenant.qos_satisfaction
            rows.append(
                [
                    *plain(str(machine.index), machine.type, tenant.name, tenant.model),
                    Cell(f"{machine.predicted_load:.0%}"),
                    Cell(fmt.rate(tenant.rate_rps)),
                    Cell(fmt.rate(tenant.served_rps)),
                    Cell(tenant.sla),
                    Cell(fmt.ms(tenant.latency_ms), None if tenant.met else "bad"),
                    Cell(fmt.MISSING if qos is None else f"{qos:.1%}"),
                    Cell("yes" if tenant.met else "in doubt" if tenant.doubt else "no", _tone(tenant)),
                    Cell("" if tenant.met else tenant.why),
                ]
            )
    return TableData(
        "deployed",
        f"Plan {found.plan!r} deployed: each machine as planned, open loop (Poisson) at the planned rates",
        [
            "#",
            "type",
            "tenant",
            "model",
            "predicted load",
            "planned req/s",
            "served req/s",
            "SLA",
            "latency ms at the SLA's percentile",
            "QoS satisfaction",
            "SLA met",
            "why not",
        ],
        rows,
        labels=4,
        notes=[
            Cell(
                "Tenants of one model on a machine share one served model: its latency is theirs. QoS "
                "satisfaction: the fraction of the model's requests within its strictest tenant's SLA.",
                "dim",
            ),
            *(
                [Cell(speed_text(found.speed), "warn" if _drifted(found.speed) else None)]
                if found.speed
                else []
            ),
        ],
    )


def speed_text(speed: dict[str, float]) -> str:
    """The host's speed now against when profiled, every model measured (closed loop, alone)."""
    each = ", ".join(f"{model} {ratio:.2f}×" for model, ratio in speed.items())
    return f"Host speed now / when profiled (each model alone, closed loop): {each}."


def _drifted(speed: dict[str, float]) -> bool:
    return any(abs(ratio - 1) > DRIFT for ratio in speed.values())


def _tone(tenant: TenantCheck) -> Tone:
    return "good" if tenant.met else "warn" if tenant.doubt else "bad"


def tables(findings: Any) -> list[TableData]:
    return [deployed_table(findings_of(findings, Findings))]


def headline(findings: Any) -> Headline | None:
    found = findings_of(findings, Findings)
    tenants = [t for m in found.machines for t in m.tenants]
    if found.met:
        return Headline(
            f"Every SLA met: {len(tenants)} tenants on {len(found.machines)} machines, as planned", None
        )
    missed = [t for t in found.missed if not t.doubt]
    doubts = [t for t in found.missed if t.doubt]
    names = ", ".join(t.name for t in missed[:5]) + (" ..." if len(missed) > 5 else "")
    said = f"{len(missed)} of {len(tenants)} tenants missed their SLA as planned" + (
        f": {names}" if missed else ""
    )
    if doubts:
        said += (
            f"; {len(doubts)} more within it but not judged met: the host delayed the load generator's sends "
            "(a machine this loaded leaves the generator too little CPU)"
        )
    return Headline(said, None)
