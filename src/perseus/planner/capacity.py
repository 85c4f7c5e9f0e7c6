"""The capacity model: whether tenants at given rates fit one machine of a type under their SLAs, predicted
from measured λ alone and co-location points, and how well it predicts (leave-one-pair-out, sets of 3+).

A machine's load is the work of its tenants in dedicated machines, Σ r/λ (λ alone at the setting they share
at), plus what co-location adds, from each pair of different models on it: κ_ab = 1 − e_ab, e_ab the pair's
measured shared capacity. Interference (κ > 0) is the pairs' κ averaged with weights w_a·w_b (each pair's
works: how much of the time both have work), so two models alone carry their pair's κ at any mix, and a set at
equal shares the mean of its pairs' κ (5 sets of 3–4 CNNs, measured, came within 1.7–16.2% of it, median 7.0%,
one 16% above; charging every pair in full, as before, came out 16–69% below each: docs/results.md, stops
30–31); a model with little work moves the mean little, so a small harmless tenant cannot dilute a pair's
interference; a pair that met no SLA together (κ ≥ 1) is charged in full, never averaged (a third model does
not make it fit). A gain (κ < 0: one model's idle time filled by the other's work) counts once, the best
pair's, since the idle time it fills is the same. It fits when the load is ≤ 1. A pair never measured gets κ
from per-model pressures fitted by least squares (κ_ab ≈ p_a + p_b), never below CAUTIOUS_KAPPA (no gain, nor
little interference, is assumed that was not measured), and is flagged; unless a set of 3+ models holding
it was measured: then its κ is what that set's measured interference leaves for its pairs not measured
(`from_sets`; a set measured together is evidence, the floor is for pairs of which nothing is known)."""

import itertools
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from perseus.planner.profile import Colocation, MachineProfile

Pair = tuple[str, str]

# The least κ of a pair never measured, whatever the least-squares pressures predict (and the κ a profile's
# `pairs: auto` rounds take for it while choosing, so `perseus plan` is never bolder with a pair than the
# rounds that chose not to measure it). Cautious, so a plan co-locates an unmeasured pair only where sharing
# pays even if the pair interferes about as much as the worst pairs measured on a 2-core host that met their
# SLAs short of DenseNet-121's (those carried 0.60–0.95 of a machine's work, κ 0.05–0.40; DenseNet-121's
# 0.40–0.55). Not higher: at 0.5 no two of plans/fleet-6cnn.yaml's models (each 25–50% of a machine) fit
# together, so nothing would be measured and the plan stays one model per machine, where measuring every
# pair finds a machine or two less. Not lower: at 0 the plan tries every model beside ResNet-50, whose pairs
# never met an SLA, and measures 14 of the 15 pairs (simulated from the README's λs, κ 1 for ResNet-50's
# pairs, 0.525 for DenseNet-121's, 0.05–0.40 for the others: 0.4 measures 3–7 and plans 6 machines, the
# optimum in 2 of the 3 cases). Fixed rather than the worst κ measured so far: it holds before any pair is
# measured, and one pair that met no SLA at all (κ = 1) would forbid every pair not yet measured. Not the
# least-squares prediction alone: that is fitted to the few pairs measured so far, is not cautious by
# construction, and on 2026-12-07 it put MobileNetV2 and DenseNet-121, never measured together, on one
# machine that then missed its SLA (docs/results.md, stop 31).
CAUTIOUS_KAPPA = 0.4


def pair(a: str, b: str) -> Pair:
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class Capacity:
    """The fitted model of one machine type."""

    profile: MachineProfile
    kappa: Mapping[Pair, float]  # every pair of profiled models: measured, else predicted (≥ 0)
    measured: frozenset[Pair]  # the pairs κ was measured for
    pressures: Mapping[str, float] = field(default_factory=dict)  # the least-squares fit (may be empty)
    blind: bool = False  # the interference-blind model: every κ is 0
    from_sets: frozenset[Pair] = frozenset()  # pairs not measured whose κ a measured set of 3+ gives

    @property
    def covered(self) -> frozenset[Pair]:
        """The pairs κ rests on a measurement for: measured alone, or inside a set measured together."""
        return self.measured | self.from_sets

    @cached_property
    def _lam(self) -> dict[str, float]:
        return {m: p.shared_rps.value for m, p in self.profile.models.items()}

    @cached_property
    def _table(self) -> dict[str, dict[str, float]]:
        """κ by model and model (both ways round), 0 for the blind model: the planner's inner loop."""
        table: dict[str, dict[str, float]] = {m: {} for m in self.profile.models}
        for (a, b), kappa in self.kappa.items():
            table[a][b] = table[b][a] = 0.0 if self.blind else kappa
        return table

    def lam(self, model: str) -> float:
        return self._lam[model]

    def row(self, model: str) -> Mapping[str, float]:
        """κ of `model` beside each other model (0 for the blind model)."""
        return self._table[model]

    def best(self, model: str) -> float:
        return max(self.profile.models[model].best_rps.value, self.lam(model))

    def work(self, model: str, rate: float) -> float:
        """A model's work on a shared machine, in dedicated machines: r/λ at the setting it shares at."""
        return rate / self._lam[model]

    def terms(self, models: Iterable[str]) -> list["PairTerm"]:
        """The pair terms among these models (each pair of different models whose κ is not 0): what the
        load adds to Σ r/λ. The MILP's rows and the greedy's incremental state are built from these."""
        named = sorted(set(models))
        found = []
        for index, a in enumerate(named):
            row = self._table[a]
            for b in named[index + 1 :]:
                if row[b] != 0.0:
                    found.append(PairTerm(a, b, row[b]))
        return found

    def load(self, rates: Mapping[str, float]) -> float:
        """Predicted load of one machine serving these models (req/s each): ≤ 1 fits. One model alone on
        a machine serves up to its best λ; models together, Σ r/λ plus their pair terms."""
        rates = {m: r for m, r in rates.items() if r > 0}
        if len(rates) == 1:
            ((model, rate),) = rates.items()
            return rate / self.best(model)
        work = {m: self.work(m, r) for m, r in rates.items()}
        return sum(work.values()) + self.pair_terms(work)

    def pair_terms(self, work: Mapping[str, float]) -> float:
        """What co-location adds to Σ r/λ (`work` by model): the interfering pairs' κ weighted by the
        products of their works over every pair's (`interference`), plus in full the κ of pairs that met
        no SLA together (`PairTerm.apart`), less the largest gain of one pair."""
        present = {m: w for m, w in work.items() if w > 0}
        weighted, apart, gain = 0.0, 0.0, 0.0
        for term in self.terms(present):
            if term.apart:
                apart += term.penalty
            else:
                weighted += term.penalty * present[term.a] * present[term.b]
            gain = max(gain, term.gain(present[term.a], present[term.b]))
        both = sum(w * v for (_, w), (_, v) in itertools.combinations(present.items(), 2))
        return interference(weighted, both) + apart - gain

    def predicted_capacity(self, models: Iterable[str]) -> float:
        """Σ r/λ these models can carry together on one machine at equal shares of work."""
        named = sorted(set(models))
        low, high = 0.0, 4.0
        for _ in range(50):
            mid = (low + high) / 2
            work = {m: mid / len(named) for m in named}
            low, high = (mid, high) if sum(work.values()) + self.pair_terms(work) <= 1.0 else (low, mid)
        return low

    def flags(self, models: Iterable[str]) -> list[str]:
        """What about a machine of these models is predicted rather than measured."""
        named = list(itertools.combinations(sorted(set(models)), 2))
        unmeasured = [f"{a}+{b}" for a, b in named if pair(a, b) not in self.covered]
        in_sets = [f"{a}+{b}" for a, b in named if pair(a, b) in self.from_sets]
        if self.blind:
            return []
        return [f"pair not measured, κ predicted: {', '.join(unmeasured)}"] * bool(unmeasured) + [
            f"pair measured only inside a set, κ from the set: {', '.join(in_sets)}"
        ] * bool(in_sets)

    def memory(self, model: str) -> float:
        return self.profile.models[model].memory_bytes


def interference(weighted: float, both: float) -> float:
    """The interference of a machine's models: Σ κ⁺_ab·w_a·w_b (`weighted`) over Σ w_a·w_b of every pair of
    its models (`both`, harmless pairs included): the pairs' κ averaged by how much of the time both have
    work. Never above the worst pair's κ (the MILP charges that, a cautious bound of this)."""
    return weighted / both if both > 0 else 0.0


@dataclass(frozen=True)
class PairTerm:
    """One pair of different models on a machine. Interference (κ > 0) enters the machine's weighted mean
    (`interference`) whatever the mix. A gain (κ < 0: one model's idle time filled by the other's work)
    counts once, the best pair's, since the idle time it fills is the same; it grows with the lesser of
    the pair's two works and reaches −κ where it was measured (equal shares, each (1 − κ)/2), since a
    model with little work fills little of the other's idle time."""

    a: str
    b: str
    kappa: float

    @property
    def penalty(self) -> float:
        return max(0.0, self.kappa)

    @property
    def apart(self) -> bool:
        """κ ≥ 1: the pair met no SLA together at any rate (or is kept apart): charged in full, never
        averaged with other pairs (a third model does not make them fit together)."""
        return self.kappa >= 1.0

    @property
    def slope(self) -> float:
        """The gain per unit of the lesser work (0 for an interfering pair)."""
        return -self.kappa / ((1.0 - self.kappa) / 2.0) if self.kappa < 0 else 0.0

    def gain(self, work_a: float, work_b: float) -> float:
        return min(-self.kappa, self.slope * min(work_a, work_b)) if self.kappa < 0 else 0.0


@dataclass
class MachineLoad:
    """A machine being filled, one piece at a time, its load kept in parts so adding a piece costs
    O(models on it); `load` always equals `Capacity.load` of its rates (a property test holds it to that)."""

    capacity: Capacity
    rates: dict[str, float] = field(default_factory=dict)  # req/s by model
    work: dict[str, float] = field(default_factory=dict)  # r/λ by model
    total: float = 0.0  # Σ r/λ
    weighted: float = 0.0  # Σ κ⁺_ab·w_a·w_b over its interfering pairs (not apart)
    both: float = 0.0  # Σ w_a·w_b over every pair of its models
    apart: float = 0.0  # Σ κ of its pairs charged in full
    gain: float = 0.0  # the largest gain of one pair

    def _terms(self, model: str, work: float) -> tuple[float, float, float, float]:
        """(weighted, both, apart, gain) with `work` more of `model`."""
        row = self.capacity.row(model)
        mine = self.work.get(model, 0.0) + work
        weighted, apart, gain = self.weighted, self.apart, self.gain
        both = self.both + work * (self.total - self.work.get(model, 0.0))
        for other, theirs in self.work.items():
            if other == model or row[other] == 0.0:
                continue
            term = PairTerm(model, other, row[other])
            if not term.apart:
                weighted += work * theirs * term.penalty
            elif model not in self.work:
                apart += term.penalty
            gain = max(gain, term.gain(mine, theirs))
        return weighted, both, apart, gain

    def load_with(self, model: str, rate: float) -> float:
        """The load this machine would have with `rate` more of `model`."""
        if self.rates.keys() <= {model}:  # one model alone: served at its best setting
            return (self.rates.get(model, 0.0) + rate) / self.capacity.best(model)
        work = self.capacity.work(model, rate)
        weighted, both, apart, gain = self._terms(model, work)
        return self.total + work + interference(weighted, both) + apart - gain

    def add(self, model: str, rate: float) -> None:
        work = self.capacity.work(model, rate)
        self.weighted, self.both, self.apart, self.gain = self._terms(model, work)
        self.work[model] = self.work.get(model, 0.0) + work
        self.rates[model] = self.rates.get(model, 0.0) + rate
        self.total += work

    @property
    def load(self) -> float:
        return self.load_with(next(iter(self.rates)), 0.0) if self.rates else 0.0


def pair_points(profile: MachineProfile) -> dict[Pair, float]:
    """κ = 1 − e of each measured pair, the mean over its mixes."""
    found: dict[Pair, list[float]] = {}
    for point in profile.colocations:
        if len(point.models) == 2:
            found.setdefault(pair(*point.models), []).append(1.0 - point.efficiency.value)
    return {p: statistics.fmean(ks) for p, ks in found.items()}


def fit_pressures(points: Mapping[Pair, float], models: Iterable[str]) -> dict[str, float]:
    """Per-model pressures p with κ_ab ≈ p_a + p_b, by least squares over the measured pairs (models in no
    measured pair get none)."""
    named = sorted({m for p in points for m in p} & set(models))
    if not points or not named:
        return {}
    index = {m: i for i, m in enumerate(named)}
    rows = np.zeros((len(points), len(named)))
    for row, (a, b) in enumerate(points):
        rows[row, index[a]] += 1.0
        rows[row, index[b]] += 1.0
    solution, *_ = np.linalg.lstsq(rows, np.array(list(points.values())), rcond=None)
    return {m: float(solution[index[m]]) for m in named}


def fit(profile: MachineProfile, blind: bool = False, sets: bool = True) -> Capacity:
    """The capacity model of one machine type from its profile (`sets`: a pair not measured inside a set
    measured together takes its κ from the set, `set_kappas`; False: from the pairs alone)."""
    points = pair_points(profile)
    pressures = fit_pressures(points, profile.models)
    worst = max([0.0, *points.values()])
    from_sets = set_kappas(profile, points) if sets else {}
    kappa: dict[Pair, float] = {}
    for a, b in itertools.combinations(sorted(profile.models), 2):
        if (a, b) in points:
            kappa[(a, b)] = points[(a, b)]
        elif (a, b) in from_sets:
            kappa[(a, b)] = from_sets[(a, b)]
        elif a in pressures and b in pressures:
            kappa[(a, b)] = max(CAUTIOUS_KAPPA, pressures[a] + pressures[b])
        else:  # nothing measured of one of them beside anything: the worst interference measured
            kappa[(a, b)] = max(CAUTIOUS_KAPPA, worst)
    return Capacity(profile, kappa, frozenset(points), pressures, blind, frozenset(from_sets))


def set_kappas(profile: MachineProfile, points: Mapping[Pair, float]) -> dict[Pair, float]:
    """κ of each pair not measured (`points`: those measured) inside a set of 3+ models measured together:
    what the set's interference κ_S = 1 − e_S leaves for them. A set is measured at equal shares of work,
    where the model's interference is the plain mean of its pairs' κ, so its pairs not known share N·κ_S
    less the known pairs' κ equally (N its pairs), within [0, 1]: no gain is assumed of a set (a gain is
    one pair's, and which is not known), and a set that met no SLA at any rate gives 1. Sets are read
    smallest first, and a pair a smaller set gave is known to a larger one: four models that fit together
    and a fifth that does not beside them put the blame on the fifth's pairs, not on the four's. A pair in
    several sets of one size: the largest (cautious). A set that met no SLA even at the least load a trial
    could judge, and that load at or above one machine's work (its interval's top ≥ 1: its slowest tenant
    needs that much to be judged), says nothing of its pairs, and is left out."""
    measured = _measured([c for c in profile.colocations if _judged(c)], keep_unmet=True)
    known: dict[Pair, float] = dict(points)
    found: dict[Pair, float] = {}
    for size in sorted({len(m) for m in measured if len(m) >= 3}):
        this_size: dict[Pair, float] = {}
        for models, values in measured.items():
            if len(models) != size:
                continue
            inside = [pair(a, b) for a, b in itertools.combinations(models, 2)]
            unknown = [p for p in inside if p not in known]
            if not unknown:
                continue
            set_kappa = 1.0 - statistics.fmean(values)
            left = (len(inside) * set_kappa - sum(known[p] for p in inside if p in known)) / len(unknown)
            for p in unknown:
                this_size[p] = max(this_size.get(p, 0.0), min(1.0, max(0.0, left)))
        known.update(this_size)
        found.update(this_size)
    return found


@dataclass(frozen=True)
class Check:
    """One prediction against its measurement: a pair left out of the fit, or a set of 3+ models."""

    models: tuple[str, ...]
    measured: float  # shared capacity e (Σ r/λ at the highest rates meeting every SLA)
    predicted: float

    @property
    def error(self) -> float:
        return abs(self.predicted - self.measured) / self.measured


def leave_one_pair_out(profile: MachineProfile) -> list[Check]:
    """Each measured pair's shared capacity predicted with its own measurements left out, by the capacity
    model the planner plans with (`fit`: κ from the other pairs' pressures, never below CAUTIOUS_KAPPA;
    the worst measured where a model is in no other pair): the error of the predictor in use, cautious by
    design."""
    points = pair_points(profile)
    checks = []
    for left_out, kappa in points.items():
        if kappa >= 1.0:  # no rate met every SLA: no relative error to take (it stays in the fits)
            continue
        kept = tuple(c for c in profile.colocations if len(c.models) != 2 or pair(*c.models) != left_out)
        without = fit(replace(profile, colocations=kept))
        checks.append(Check(left_out, 1.0 - kappa, without.predicted_capacity(left_out)))
    return checks


def set_checks(capacity: Capacity, points: Iterable[Colocation]) -> list[Check]:
    """Each measured set of 3 or more models (the mean of its measurements) against the capacity the
    model predicts for it (from its pairs: prediction_checks fits without the sets, which would predict
    each set from itself). (A set that met no SLA at any rate has no relative error and is left out, as
    leave_one_pair_out leaves out such pairs; the profile's report names it.)"""
    return [
        Check(models, statistics.fmean(values), capacity.predicted_capacity(models))
        for models, values in _measured(points).items()
        if len(models) >= 3
    ]


def repeat_checks(points: Iterable[Colocation]) -> list[Check]:
    """Each co-location measured more than once, each measurement against the mean of the others: how
    well the measurement predicts itself, the floor under any model's error. (A measurement that met no
    SLA at any rate has no relative error and is left out.)"""
    return [
        Check(models, value, statistics.fmean(values[:i] + values[i + 1 :]))
        for models, values in _measured(points).items()
        if len(values) >= 2
        for i, value in enumerate(values)
    ]


def _judged(point: Colocation) -> bool:
    """A co-location measured at some load below one machine's work: met there, or missed there (e < 1)."""
    return point.efficiency.value > 0 or point.efficiency.high < 1.0


def _measured(points: Iterable[Colocation], keep_unmet: bool = False) -> dict[tuple[str, ...], list[float]]:
    """Each co-location's shared capacities as measured, by its models (sorted); those that met no SLA at
    any rate (e 0) left out unless `keep_unmet`."""
    found: dict[tuple[str, ...], list[float]] = {}
    for point in points:
        if point.efficiency.value > 0 or keep_unmet:
            found.setdefault(tuple(sorted(point.models)), []).append(point.efficiency.value)
    return found


def median_error(checks: list[Check]) -> float | None:
    return statistics.median(c.error for c in checks) if checks else None


@dataclass(frozen=True)
class Checks:
    """How well shared capacity is predicted, and how well it repeats."""

    pairs: list[Check]  # each measured pair left out of the fit and predicted from the others
    sets: list[Check]  # each measured set of 3+ against its prediction
    repeats: list[Check]  # each co-location measured again against its other measurements


def prediction_checks(profiles: Iterable[MachineProfile]) -> Checks:
    """The checks over these (measured, not extrapolated) profiles."""
    checks = Checks([], [], [])
    for profile in profiles:
        checks.pairs.extend(leave_one_pair_out(profile))
        checks.sets.extend(set_checks(fit(profile, sets=False), profile.colocations))
        checks.repeats.extend(repeat_checks(profile.colocations))
    return checks
