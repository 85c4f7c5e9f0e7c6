"""Drawing kind `profile`: each model's λ alone at every setting measured and its memory, and each
co-location's shared capacity (Σ r/λ at the highest rates meeting every SLA) — what plans are made of."""

import itertools
from typing import Any

from perseus.experiments.analysis import Peak
from perseus.experiments.profile import Findings
from perseus.planner.capacity import CAUTIOUS_KAPPA
from perseus.report import fmt
from perseus.report.fmt import Headline
from perseus.report.kinds import findings_of
from perseus.report.table import Cell, TableData, per_tenant, plain

CAPACITY_NOTE = (
    "Shared capacity: Σ r/λ at the highest rates (in the mix's shares of the machine's work) that met every "
    "SLA together, λ each model's alone at the same setting. 1.00: sharing does what dedicated machines "
    "would; above, sharing gains; below, the models interfere."
)


def solo_table(found: Findings) -> TableData:
    rows = []
    for model, settings in found.solo.items():
        profile = found.profile.models.get(model)
        spec = profile.spec if profile is not None else model
        for label, peak in settings.items():
            best = profile is not None and fmt.setting_text(profile.best_setting) == label
            rows.append(
                [
                    *plain(model, spec, label, fmt.rate(peak.total.value), fmt.span(peak.total, fmt.rate)),
                    Cell(f"best: {fmt.rate(profile.best_rps.value)}", "good")
                    if best and profile is not None
                    else Cell(""),
                    Cell(_mib(profile.memory_bytes) if profile is not None else fmt.MISSING),
                ]
            )
    return TableData(
        "solo",
        f"λ of each model alone on {found.profile.machine}",
        ["model", "spec", "setting", "λ req/s", "interval", "machine of its own req/s", "memory MiB"],
        rows,
        labels=3,
        notes=[
            Cell(
                "Machine of its own: the best setting alone, its λ from a search again on a fresh server "
                "after it was chosen (the best of several settings leans high).",
                "dim",
            ),
            Cell("Memory: peak RSS of the model's server processes alone, as configured.", "dim"),
        ],
    )


def _mib(memory_bytes: float) -> str:
    return f"{memory_bytes / 2**20:,.0f}" if memory_bytes > 0 else fmt.MISSING


def capacity_table(found: Findings) -> TableData | None:
    if not found.colocated:
        return None
    rows = []
    for group, peak, point in found.colocated:
        rows.append(
            [
                *plain(
                    " + ".join(group.where.models),
                    " : ".join(f"{share:.0%}" for share in group.shares.values()),
                    per_tenant(dict(peak.rates_rps), fmt.rate),
                ),
                _capacity_cell(point.efficiency.value),
                Cell(fmt.span(point.efficiency, fmt.ratio)),
            ]
        )
    return TableData(
        "capacity",
        "Shared capacity of models co-located",
        ["models", "shares of work", "rates req/s at the peak", "shared capacity", "interval"],
        rows,
        labels=2,
        notes=[Cell(CAPACITY_NOTE, "dim")],
    )


def pairs_table(found: Findings) -> TableData | None:
    """pairs: auto: each pair of profiled models, measured in which round (co-located by that round's
    plan) or never needed; and what each round's plan was."""
    if not found.choices:
        return None
    models = sorted(found.profile.models)
    rows, notes = [], []
    stored = {tuple(sorted(c.models)) for c in found.profile.colocations}
    for number, choice in enumerate(found.choices, start=1):
        chosen = choice.covered
        sets = [m for m in choice.measured if len(m) > 2]
        for a, b in itertools.combinations(models, 2):
            k = chosen.get((a, b))
            inside = next((m for m in sets if a in m and b in m and (a, b) not in choice.measured), None)
            where = (a, b) if inside is None else inside
            why = f"co-located by round {k}'s plan" + (
                f", measured in the set {'+'.join(inside)}" if inside else ""
            )
            if k is not None and where not in stored:  # the run stopped before measuring it
                said = [Cell(f"round {k}: not yet", "warn"), Cell(why)]
            elif k is not None:
                said = [Cell(f"round {k}", "good"), Cell(why)]
            elif (a, b) in stored:  # the rounds replayed now differ from those run (the fleet file changed?)
                said = [Cell("measured", "warn"), Cell("no round replayed now chose it")]
            else:
                said = [Cell("never needed", "dim"), Cell("no round's plan co-located it")]
            rows.append([*plain(f"{a} + {b}", str(number)), *said])
        plans = "; ".join(
            f"round {r.number}: {r.machines} machines, {fmt.usd(r.usd_per_h)} $/h"
            + (
                f", measures {', '.join('+'.join(m) for m in r.pairs)}"
                if r.pairs
                else ", no pair not measured"
            )
            for r in choice.rounds
        )
        pass_of = f"Pass {number}'s plans" if len(found.choices) > 1 else "Plans"
        notes.append(Cell(f"{pass_of} (pairs not measured at κ {CAUTIOUS_KAPPA:g}): {plans}.", "dim"))
        if not choice.finished:
            notes.append(
                Cell("The last round's pairs are not all measured yet: the rounds are unfinished.", "warn")
            )
    return TableData(
        "pairs",
        f"Pairs measured (pairs: auto): {sum(len(c.covered) for c in found.choices)} of {len(rows)}",
        ["pair", "pass", "measured", "why"],
        rows,
        labels=2,
        notes=notes,
    )


def _capacity_cell(value: float) -> Cell:
    return Cell(fmt.ratio(value), "good" if value >= 1.0 else "bad" if value < 0.9 else "warn")


def blocks_table(found: Findings) -> TableData | None:
    """`order: interleaved`: each block of each co-location, in the order it ran, with the host's speed."""
    if not found.blocks:
        return None
    rows = []
    for block in found.blocks:
        speed = fmt.MISSING if block.speed_ops_s is None else f"{block.speed_ops_s:,.0f}"
        moved = "" if block.speed_moved is None else f" (moved {block.speed_moved:.0%})"
        rows.append(
            [
                *plain(
                    block.group,
                    str(block.number),
                    " → ".join(block.order),
                    per_tenant({m: p.total_rps for m, p in block.alone.items()}, fmt.rate),
                ),
                _capacity_cell(block.efficiency)
                if block.efficiency is not None
                else Cell(fmt.MISSING, "dim"),
                Cell(speed + moved, "warn" if block.drifted else None),
            ]
        )
    return TableData(
        "blocks",
        "Blocks: λ alone and shared capacity measured together, in a random order per block",
        ["co-location", "block", "order", "λ alone req/s", "shared capacity", "host speed ops/s"],
        rows,
        labels=2,
        notes=[
            Cell(
                "Each block's shared capacity is Σ r/λ against that block's own λ alone; a co-location's is "
                "the blocks' median, its interval their spread. Host speed: the median of the block's "
                "trials' reference workload (ops/s); a block it moved more than 10% in is flagged.",
                "dim",
            )
        ],
    )


def tables(findings: Any) -> list[TableData]:
    found = findings_of(findings, Findings)
    shown = [solo_table(found)] if found.solo else []
    more = (capacity_table(found), blocks_table(found), pairs_table(found))
    return shown + [t for t in more if t is not None]


def searches(findings: Any) -> list[Peak]:
    found = findings_of(findings, Findings)
    shown = list(found.peaks.values()) + [peak for _, peak, _ in found.colocated]
    for block in found.blocks:  # every block's searches, each once
        shown += [p for p in [*block.alone.values(), block.together] if p is not None and p not in shown]
    return shown


def headline(findings: Any) -> Headline | None:
    found = findings_of(findings, Findings)
    points = found.profile.colocations
    if not points:
        return None
    low = min(points, key=lambda c: c.efficiency.value)
    high = max(points, key=lambda c: c.efficiency.value)
    return Headline(
        f"{len(found.profile.models)} models profiled on {found.profile.machine}: co-located, they carry "
        f"{fmt.ratio(low.efficiency.value)} ({' + '.join(low.models)}) to "
        f"{fmt.ratio(high.efficiency.value)} ({' + '.join(high.models)}) of dedicated machines' work",
        None,
    )
