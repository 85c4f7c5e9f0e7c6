"""A fleet plan as the user reads it: a row per machine (type, tenants and rates, predicted load and
headroom, $/h), totals against one model per machine (its tenants pooled), each tenant alone, and the
interference-blind plan, the LP bound, how well the
capacity model predicted what was measured; a figure; and one JSON object."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from perseus.core.files import atomic_write_bytes
from perseus.experiments.results import ExperimentResults
from perseus.planner.capacity import Check, Checks, median_error
from perseus.planner.problem import Plan, PlannedMachine
from perseus.planner.solve import Answer
from perseus.report import fmt
from perseus.report.figure import BAD, DEDICATED, GOOD, RC, SHARED, WIDTH_IN, png
from perseus.report.table import Cell, TableData, plain


def usd(value: float) -> str:
    return f"{value:,.4f}"


def specs_note(answer: Answer) -> str | None:
    """`models: small = synthetic-cpu:dim=32, ...` where a model's name is not its spec."""
    named = [f"{n} = {s}" for n, s in sorted(model_specs(answer).items()) if n != s]
    return f"models: {'; '.join(named)}" if named else None


def machines_table(plan: Plan, title: str, key: str = "machines") -> TableData:
    rows = []
    for index, m in enumerate(plan.machines, 1):
        over = m.predicted_load > 1.0 + 1e-6
        rows.append(
            [
                *plain(str(index), m.type, " + ".join(f"{t} {fmt.rate(r)}" for t, r in m.tenants.items())),
                Cell("alone, best setting" if m.dedicated else "shared"),
                Cell(f"{m.predicted_load:.0%}", "bad" if over else None),
                Cell(
                    f"{m.headroom if over else max(0.0, m.headroom):.0%}",
                    "bad" if over else "warn" if m.headroom < 0.05 else None,
                ),
                Cell(usd(m.usd_per_h)),
                Cell("; ".join(m.flags), "warn" if m.flags else None),
            ]
        )
    return TableData(
        key,
        title,
        ["#", "type", "tenants req/s", "served", "predicted load", "headroom", "$/h", "flags"],
        rows,
        labels=4,
        notes=[Cell(LOAD_NOTE, "dim")],
    )


LOAD_NOTE = (
    "Predicted load: Σ r/λ of the models on the machine plus the capacity model's pair terms; ≤ 100% is "
    "predicted to meet every SLA. A plan is a prediction until `perseus plan --validate` has measured it."
)


def totals_table(answer: Answer) -> TableData:
    dedicated = answer.dedicated.usd_per_h

    def row(label: str, plan: Plan, note: str = "") -> list[Cell]:
        saving = 1 - plan.usd_per_h / dedicated if dedicated > 0 else None
        over = sum(1 for m in plan.machines if m.predicted_load > 1.0 + 1e-6)
        return [
            *plain(label, str(len(plan.machines)), usd(plan.usd_per_h)),
            Cell(fmt.pct(saving, signed=True), "good" if saving and saving > 0 else None),
            Cell(f"{over} over capacity" if over else "none over", "bad" if over else None),
            Cell(note),
        ]

    plan = answer.plan
    solver = plan.solver
    how = plan.method + (
        f" (MILP {solver['status']})" if "status" in solver and plan.method != "milp" else ""
    )
    if plan.method == "milp" and solver.get("mip_gap") is not None:
        how += f", {solver['status']}, within {float(str(solver['mip_gap'])):.1%} of its bound"
    return TableData(
        "totals",
        "Totals ($/h); saving against one model per machine (its tenants pooled, at its best setting)",
        ["plan", "machines", "$/h", "saving", "predicted", "how"],
        [
            row("interference-aware (recommended)", plan, how),
            row("interference-blind (Σ r/λ ≤ 1)", answer.blind, "loads as the aware model predicts them"),
            row(
                "one model per machine (the baseline)",
                answer.dedicated,
                "each model alone, its tenants pooled, best setting",
            ),
            row(
                "each tenant on machines of its own",
                answer.per_tenant,
                f"looser (one model's tenants apart): the plan saves "
                f"{fmt.pct(answer.saving_per_tenant, signed=True)} against it",
            ),
            [
                *plain("LP lower bound", fmt.MISSING, usd(plan.lower_bound_usd_per_h)),
                Cell(fmt.MISSING),
                Cell(fmt.MISSING),
                Cell(bound_note(plan)),
            ],
        ],
        bold=frozenset({0}),
    )


BASELINE = "one model per machine: its tenants pooled, at its best setting, on its cheapest machines"


def bound_note(plan: Plan) -> str:
    """How far the plan is from the LP bound, as a factor of it (a gap as a share of the plan's cost reads
    smaller than it is)."""
    bound = plan.lower_bound_usd_per_h
    if bound <= 0:
        return "no bound"
    factor = plan.usd_per_h / bound
    return "the plan costs the bound" if factor < 1.0005 else f"the plan costs {factor:.2f}× the bound"


def checks_table(checks: Checks) -> TableData | None:
    items = (
        [("leave one pair out", c) for c in checks.pairs]
        + [("measured set", c) for c in checks.sets]
        + [("measured again", c) for c in checks.repeats]
    )
    if not items:
        return None
    rows = [
        [
            *plain(test, " + ".join(c.models), fmt.ratio(c.measured), fmt.ratio(c.predicted)),
            Cell(f"{c.error:.1%}", "bad" if c.error > 0.15 else "warn" if c.error > 0.10 else None),
        ]
        for test, c in items
    ]
    medians = [
        f"{name} {error:.1%} (median of {len(of)})"
        for name, of in (("leave one pair out", checks.pairs), ("measured again", checks.repeats))
        if (error := median_error(of)) is not None
    ]
    return TableData(
        "checks",
        "How well the capacity model predicts shared capacity (Σ r/λ at the SLA); 'measured again': a "
        "co-location's measurement against its other measurements (predicted = their mean), the floor "
        "under any model's error" + (f". Error: {'; '.join(medians)}" if medians else ""),
        ["check", "models", "measured", "predicted", "error"],
        rows,
        labels=2,
    )


def prediction_json(checks: Checks) -> dict[str, Any]:
    def listed(of: list[Check]) -> list[dict[str, Any]]:
        return [{"models": c.models, "measured": c.measured, "predicted": c.predicted} for c in of]

    return {
        "leave_one_pair_out_median_error": median_error(checks.pairs),
        "measured_again_median_error": median_error(checks.repeats),
        "pairs": listed(checks.pairs),
        "sets": listed(checks.sets),
        "measured_again": listed(checks.repeats),
    }


def model_specs(answer: Answer) -> dict[str, str]:
    """Each planned model's name and the spec it was profiled as."""
    planned = {t.model for t in answer.problem.tenants}
    return {
        name: m.spec
        for kind in answer.problem.types
        for name, m in kind.capacity.profile.models.items()
        if name in planned
    }


def plan_json(answer: Answer) -> dict[str, Any]:
    plan = answer.plan

    def machines(of: Plan) -> list[dict[str, Any]]:
        return [
            {
                "type": m.type,
                "tenants": _rounded(m.tenants),
                "models": _rounded(m.models),
                "predicted_load": round(m.predicted_load, 6),
                "usd_per_h": m.usd_per_h,
                "alone": m.dedicated,
                "flags": list(m.flags),
            }
            for m in of.machines
        ]

    return {
        "usd_per_h": plan.usd_per_h,
        "dedicated_usd_per_h": answer.dedicated.usd_per_h,
        "saving": answer.saving,
        "baseline": BASELINE,
        "per_tenant_usd_per_h": answer.per_tenant.usd_per_h,
        "saving_vs_per_tenant": answer.saving_per_tenant,
        "lower_bound_usd_per_h": plan.lower_bound_usd_per_h,
        "method": plan.method,
        "model_specs": model_specs(answer),
        "solver": dict(plan.solver),
        "machines": machines(plan),
        "blind": {"usd_per_h": answer.blind.usd_per_h, "machines": machines(answer.blind)},
        "dedicated": {"machines": machines(answer.dedicated)},
        "per_tenant": {"machines": machines(answer.per_tenant)},
        "notes": list(plan.notes),
    }


def _rounded(rates: Mapping[str, float]) -> dict[str, float]:
    """Req/s to the thousandth: a split tenant's 149.79270211795958 is 149.793 (what a load generator can
    offer anyway)."""
    return {name: round(rate, 3) for name, rate in rates.items()}


def validation_json(results: ExperimentResults) -> dict[str, object]:
    """A `deploy` run of a plan as JSON: each tenant placement, judged against its own SLA."""
    found = results.findings
    return {
        "run": results.run_id,
        "plan": found.plan,
        "all_sla_met": found.met,
        "verdict": found.verdict,  # held | missed | unjudged
        "host_speed": found.speed,  # per model: closed-loop req/s alone now / when profiled
        "tenants": [
            {
                "machine": m.index,
                "name": t.name,
                "model": t.model,
                "rate_rps": t.rate_rps,
                "sla": t.sla,
                "latency_ms": t.latency_ms,
                "qos_satisfaction": t.qos_satisfaction,
                "met": t.met,
                "predicted_load": m.predicted_load,
            }
            for m in found.machines
            for t in m.tenants
        ],
    }


def plan_figure(answer: Answer, title: str) -> Figure:
    """Left: $/h of each plan and the LP bound. Right: each machine of the plan, its load by model."""
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(WIDTH_IN, 4.6), dpi=125, layout="constrained")
        cost_ax, load_ax = fig.subplots(1, 2, width_ratios=[1, 2])
        fig.suptitle(title)
        names = ["per tenant", "per model", "blind", "aware", "LP bound"]
        values = [
            answer.per_tenant.usd_per_h,
            answer.dedicated.usd_per_h,
            answer.blind.usd_per_h,
            answer.plan.usd_per_h,
            answer.plan.lower_bound_usd_per_h,
        ]
        bars = cost_ax.bar(names, values, color=["silver", DEDICATED, SHARED, GOOD, "lightgray"])
        cost_ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], padding=2, fontsize=9)
        cost_ax.set_ylabel("$/h")
        cost_ax.tick_params(axis="x", rotation=30)
        machines = answer.plan.machines
        bottoms = [0.0] * len(machines)
        models = sorted({model for m in machines for model in m.models})
        colours = matplotlib.colormaps["tab10"]
        for index, model in enumerate(models):
            shares = [_share(answer, m, model) for m in machines]
            load_ax.bar(range(len(machines)), shares, bottom=bottoms, color=colours(index % 10), label=model)
            bottoms = [b + s for b, s in zip(bottoms, shares, strict=True)]
        load_ax.axhline(1.0, color=BAD, ls=":", lw=1.2, label="capacity")
        load_ax.set_xticks(range(len(machines)), [f"{i + 1}" for i in range(len(machines))])
        load_ax.set_xlabel("machine of the interference-aware plan")
        load_ax.set_ylabel("predicted load")
        load_ax.legend(fontsize=8, frameon=False, loc="upper right", ncols=2)
        load_ax.set_ylim(0, max([1.2, *bottoms]) * 1.15)
        return fig


def _share(answer: Answer, m: PlannedMachine, model: str) -> float:
    """A model's part of its machine's predicted load (pair terms spread in proportion to the work)."""
    capacity = answer.problem.type(m.type).capacity
    work = {k: r / (capacity.best(k) if m.dedicated else capacity.lam(k)) for k, r in m.models.items()}
    total = sum(work.values())
    return m.predicted_load * work.get(model, 0.0) / total if total > 0 else 0.0


def write_plan_figure(answer: Answer, title: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, png(plan_figure(answer, title)))
    return path
