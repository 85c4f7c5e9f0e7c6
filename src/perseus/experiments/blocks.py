"""A profile's co-locations measured in interleaved blocks (`profile: {order: interleaved, blocks: N}`,
after Abedi & Brecht's randomized multiple interleaved trials): each block searches λ alone of every member
and then the set together, in an order drawn afresh per block, and the block's shared capacity e = Σ r/λ
reads the set's rates against that block's own λ alone, measured minutes apart rather than an hour. The
set's e is the blocks' median, its interval their spread. Also what each block's trials say of the
host's speed, so a drift shows. Pure over trial rows apart from `run_blocks`."""

import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from perseus.config import TenantConfig
from perseus.config.experiment import ExperimentBase
from perseus.core.errors import SlaNotMetError
from perseus.core.interval import Estimate, of_searches
from perseus.core.seeds import derive_seed
from perseus.experiments.analysis import Peak, combined, offered, peak, trials_of
from perseus.experiments.lab import Lab
from perseus.experiments.placements import DEDICATED, PEAK, START_FRACTION, alone, nth, peak_of, placement
from perseus.planner.profile import Colocation
from perseus.store import Placement, TrialRow
from perseus.store.summary import speed_of

SEQUENTIAL, INTERLEAVED = "sequential", "interleaved"
BLOCK, OF = "block", "of"  # in a placement's setting: the block, and the co-location it is measured for
CAPACITY = "capacity"  # the purpose of a co-location's search (profile.CAPACITY)
SET = "together"  # an item of a block: the co-location itself; any other item is a model's key
DRIFT = 0.10  # a block whose trials' host speed moved more than this is flagged


class Group(Protocol):
    """A co-location measured (profile.Group): its server, tenants and shares of work by model key."""

    @property
    def where(self) -> Placement: ...
    @property
    def tenants(self) -> tuple[TenantConfig, ...]: ...
    @property
    def shares(self) -> dict[str, float]: ...
    @property
    def mix(self) -> float: ...


def block_order(run_id: int, group: Group, block: int) -> list[str]:
    """What block `block` measures, in order: each member's key (its λ alone) and SET, shuffled by a seed
    of the run and the block: a resumed run (same id) measures its blocks in the same order, a --fresh
    run draws anew."""
    items = [*group.shares, SET]
    random.Random(derive_seed(run_id, group.where.label(), block)).shuffle(items)
    return items


def alone_in(exp: ExperimentBase, key: str, group: Group, block: int, repeat: int) -> Placement:
    """Model `key` alone on a server of its own (as configured), in block `block` of `group`'s: a key of
    its own per block and co-location."""
    return placement(DEDICATED, [alone(exp, key)], [key], nth({BLOCK: block, OF: _of(group)}, repeat))


def together_in(group: Group, block: int) -> Placement:
    """The co-location's server in block `block`."""
    where = group.where
    return Placement(where.role, where.tenants, {**where.setting, BLOCK: block})


def _of(group: Group) -> str:
    """The co-location a model alone is measured for, as one word: `a+b` (`a+b@0.25` off an equal mix)."""
    models = "+".join(group.where.models)
    mix = group.mix
    return models if len(group.shares) > 2 or mix == 0.5 else f"{models}@{mix:g}"


def labels(group: Group, blocks: int) -> list[str]:
    """The phases of a co-location's blocks (by position: the order within a block is drawn at run time)."""
    steps = len(group.shares) + 1
    return [_label(group, b, blocks, i, steps) for b in range(1, blocks + 1) for i in range(1, steps + 1)]


def _label(group: Group, block: int, blocks: int, step: int, steps: int) -> str:
    return f"{group.where.label()} · block {block} of {blocks}, step {step} of {steps}"


def run_blocks(
    exp: ExperimentBase, lab: Lab, blocks: int, repeat: int, group: Group
) -> dict[str, list[float]]:
    """Every block of one co-location, one after another; the λ alone found, by model key."""
    known: dict[str, float] = {}  # the latest λ alone of each member: where the set's search starts
    found: dict[str, list[float]] = {m: [] for m in group.shares}
    for block in range(1, blocks + 1):
        order = block_order(lab.run_id, group, block)
        for step, item in enumerate(order, start=1):
            lab.phase(_label(group, block, blocks, step, len(order)))
            if item == SET:
                _together(lab, group, block, known)
                continue
            where = alone_in(exp, item, group, block, repeat)
            with lab.serve(where, (alone(exp, item),)) as server:
                try:
                    (name,) = where.names
                    # Where an earlier block measured it (or the file sets a start), its search starts
                    # there: no closed-loop look first.
                    known[item] = peak_of(server, name, start=known.get(item) or exp.search.start_rps)
                    found[item].append(known[item])
                except SlaNotMetError as exc:
                    lab.status(f"{item} alone (block {block}): {exc}")
    return found


def _together(lab: Lab, group: Group, block: int, known: Mapping[str, float]) -> None:
    """The co-location's search in one block, along its shares of work at the λ alone known so far (a
    member not yet measured alone: each at START_FRACTION of its closed-loop throughput on this server).
    The block's e does not depend on them: it reads the rates found against the block's own λ alone."""
    where = together_in(group, block)
    with lab.serve(where, group.tenants) as server:
        lam = dict(known)
        if any(m not in lam for m in group.shares):  # all from one look: λ of a mix would skew the shares
            lam = {where.model_of(t): START_FRACTION * r for t, r in server.estimate().items()}
        work = {m: share * lam[m] for m, share in group.shares.items()}
        total = sum(work.values())
        parts = {t: work[where.model_of(t)] / total for t in where.names}
        try:
            server.search(lambda rate: {t: rate * p for t, p in parts.items()}, where.names, total, CAPACITY)
        except SlaNotMetError as exc:
            lab.status(f"{where.label()}: {exc}")


@dataclass(frozen=True)
class Block:
    """What one block measured: λ alone of each member, the set's peak and its e against those λ, and
    the host's speed over the block's trials (its median, and how far its trials' speeds spread)."""

    group: str  # the co-location's label
    number: int
    order: tuple[str, ...]  # what ran, in order (member keys and SET), by the trials' ids
    alone: dict[str, Peak]
    together: Peak | None
    efficiency: float | None  # Σ r/λ against this block's λ alone; None: a search found no rate
    speed_ops_s: float | None  # the median of its trials' host speed; None: not recorded
    speed_moved: float | None  # its trials' fastest speed / slowest − 1
    lowest_tried: float | None = None  # no rate met every SLA: the lowest Σ r/λ its search tried
    searched: tuple[str, ...] = ()  # the members it searched alone (λ found or not)

    @property
    def drifted(self) -> bool:
        return self.speed_moved is not None and self.speed_moved > DRIFT


G = TypeVar("G", bound=Group)


@dataclass(frozen=True)
class Blocks(Generic[G]):
    """A pass's blocks: each co-location's point (e the blocks' median) and each model's λ alone over
    every block it was measured in (their `combined` centre and spread)."""

    points: list[tuple[G, Peak, Colocation]]
    infeasible: list[Colocation]  # co-locations measured where no block's search met every SLA
    alone: dict[str, Peak]
    blocks: list[Block]
    first_alone: dict[str, Placement]  # each model's first block alone (its memory is read there)
    searched: frozenset[str] = frozenset()  # the models some block searched alone (found λ or not)


def analyze_blocks(
    exp: ExperimentBase,
    trials: list[TrialRow],
    groups: Sequence[G],
    blocks: int,
    repeat: int,
    warnings: list[str],
) -> Blocks[G]:
    """A pass's blocks of every co-location, as `Blocks`; a block whose host speed drifted, and a
    co-location no block found a rate for, said in `warnings`."""
    points: list[tuple[G, Peak, Colocation]] = []
    infeasible: list[Colocation] = []
    every: list[Block] = []
    first: dict[str, Placement] = {}
    for group in groups:
        mine = [b for n in range(1, blocks + 1) if (b := _block(exp, trials, group, n, repeat)) is not None]
        for block in mine:
            for key in block.alone:
                first.setdefault(key, alone_in(exp, key, group, block.number, repeat))
            if block.drifted:
                warnings.append(
                    f"{block.group}, block {block.number}: the host's speed moved {block.speed_moved:.0%} "
                    "during the block (its λ alone and shared capacity may disagree)"
                )
        every += mine
        measured = [b for b in mine if b.efficiency is not None]
        tried = [b.lowest_tried for b in mine if b.lowest_tried is not None]
        if measured:
            point, peak_at = _point(group, measured)
            points.append((group, peak_at, point))
        elif tried:
            lowest = min(tried)
            warnings.append(
                f"{group.where.label()}: no rate met every SLA in any block (shared capacity "
                f"< {lowest:.2f}): the planner never puts these models together"
            )
            infeasible.append(Colocation(group.where.models, {}, Estimate(0.0, 0.0, lowest, 1), group.mix))
    alone: dict[str, list[Peak]] = {}
    for block in every:
        for key, found in block.alone.items():
            alone.setdefault(key, []).append(found)
    searched = frozenset(key for block in every for key in block.searched)
    return Blocks(points, infeasible, {k: combined(p) for k, p in alone.items()}, every, first, searched)


def _block(
    exp: ExperimentBase, trials: list[TrialRow], group: Group, number: int, repeat: int
) -> Block | None:
    """One block as stored; None when nothing of it is yet."""
    how = exp.search.how
    lam: dict[str, Peak] = {}
    rows: dict[str, list[TrialRow]] = {}
    for key in group.shares:
        where = alone_in(exp, key, group, number, repeat)
        (name,) = where.names
        rows[key] = trials_of(trials, where, PEAK, tenant=name)
        found = peak(trials, where, PEAK, name, how, f"{key} alone, block {number}", tenant=name)
        if found is not None:
            lam[key] = found
    where = together_in(group, number)
    rows[SET] = trials_of(trials, where, CAPACITY)
    if not any(rows.values()):
        return None
    together = peak(trials, where, CAPACITY, None, how, where.label())
    e = lowest = None
    if len(lam) == len(group.shares):
        if together is not None:
            e = sum(together.rates_rps[m] / lam[m].total_rps for m in group.shares)
        elif rows[SET]:
            lowest = min(_work(t, where, lam) for t in rows[SET])
    order = tuple(sorted((item for item in rows if rows[item]), key=lambda i: rows[i][0].id))
    speeds = [(s[0] + s[1]) / 2 for r in rows.values() for t in r if (s := speed_of(t.summary.host))]
    return Block(
        group.where.label(),
        number,
        order,
        lam,
        together if e is not None else None,
        e,
        statistics.median(speeds) if speeds else None,
        max(speeds) / min(speeds) - 1 if speeds and min(speeds) > 0 else None,
        lowest,
        tuple(key for key in group.shares if rows[key]),
    )


def _work(trial: TrialRow, where: Placement, lam: Mapping[str, Peak]) -> float:
    """Σ r/λ a trial offered, against these λ alone."""
    return sum(r / lam[where.model_of(t)].total_rps for t, r in offered(trial).items())


def _point(group: Group, measured: list[Block]) -> tuple[Colocation, Peak]:
    """The co-location's e: the blocks' median; its interval their min–max (two blocks), or a 90%
    t-interval on log e (three or more; widened to hold the median). Its rates and peak: the block's
    nearest the median (of two, the lower)."""
    values = [b.efficiency for b in measured if b.efficiency is not None]
    assert values
    median = statistics.median(values)
    if len(values) == 1:
        interval = Estimate(median, median, median, 1, min_max=True)
    elif len(values) == 2:
        interval = Estimate(median, min(values), max(values), 2, min_max=True)
    else:
        spread = of_searches([(v, v) for v in values])
        interval = Estimate(median, min(spread.low, median), max(spread.high, median), len(values))
    middle = min(measured, key=lambda b: (abs((b.efficiency or 0.0) - median), b.efficiency))
    assert middle.together is not None
    rates = dict(middle.together.rates_rps)
    return Colocation(group.where.models, rates, interval, group.mix), middle.together
