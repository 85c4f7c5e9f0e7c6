"""Kind `profile`: what the placement planner needs to know of the machine it runs on. Each model's λ alone
(as configured, and at each further knob setting listed), its memory, and co-location points: every pair
of models sharing one server, searched along fixed shares of the machine's work, and any larger sets
listed (to check the capacity model's prediction for 3 or more tenants)."""

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from perseus.config import TenantConfig
from perseus.config.experiment import ExperimentBase, Strict
from perseus.config.plan import load_plan
from perseus.config.prices import load_catalog
from perseus.core.errors import ConfigError, SlaNotMetError
from perseus.core.interval import Estimate, centre
from perseus.core.names import unknown
from perseus.experiments.analysis import Peak, combined, offered, peak, trials_of
from perseus.experiments.blocks import INTERLEAVED, SEQUENTIAL, Block, analyze_blocks, labels, run_blocks
from perseus.experiments.lab import Lab, RatesAt
from perseus.experiments.placements import (
    ESTIMATE,
    PEAK,
    alone,
    alone_setting,
    dedicated,
    dedicated_peak,
    nth,
    placement,
    repeats,
)
from perseus.planner.capacity import pair
from perseus.planner.pair_choice import Choice, Demand, Models, choose, demand_of
from perseus.planner.profile import Colocation, MachineProfile, ModelProfile, merged
from perseus.store import Placement, TrialRow
from perseus.store.keys import Scalar

NAME = "profile"
REPORT = "perseus.report.kinds.profile"
COLOCATED, CAPACITY = "colocated", "capacity"
LOOK = "look"  # solo_by: settings chosen by their closed-loop looks
MACHINE_ID = r"^[a-z0-9][a-z0-9._-]*$"


class KnobSetting(Strict):
    """One more way to serve a model alone; the knobs left out stay as the model is configured."""

    instances: int | None = Field(default=None, ge=1, le=64, description="Triton instances")
    dynamic_batching: bool | None = Field(default=None, description="Triton's dynamic batcher")
    intra_op_threads: int | None = Field(
        default=None, ge=0, le=256, description="onnxruntime intra-op threads per instance"
    )

    def knobs(self) -> dict[str, Scalar]:
        return self.model_dump(exclude_none=True)


class ProfileSettings(Strict):
    machine: str = Field(
        pattern=MACHINE_ID,
        description="the price catalog's id of this host's machine type (or `perseus run --machine ID`): "
        "plans price and place machines of this type by what is measured here",
    )
    solo: tuple[KnobSetting, ...] = Field(
        default=(),
        description="more settings each model's λ alone is searched at; a machine holding one model alone "
        "uses its best",
    )
    solo_by: Literal["search", "look"] = Field(
        default="search",
        description="how the best setting alone is chosen: search: each setting's λ searched, the best "
        "searched again on a fresh server; look: each setting's short closed-loop look (concurrency = its "
        "instances) compared with the configured one's, and only the best searched (after it is chosen: "
        "one search where `search` takes two or more)",
    )
    pairs: bool | Literal["auto"] = Field(
        default=True,
        description="true: every pair of models sharing one server; auto: only the pairs the plan of "
        "`fleet` co-locates, in rounds (each plan made from the pairs measured so far, every other pair at "
        "a cautious κ of 0.4) until it co-locates only measured pairs; false: none",
    )
    fleet: Path | None = Field(
        default=None,
        description="pairs: auto: the fleet plan file (e.g. plans/fleet-6cnn.yaml) whose plan says which "
        "pairs are measured",
    )
    auto_sets: bool = Field(
        default=False,
        description="pairs: auto: a planned machine of 3 or more models is measured as one set (at equal "
        "shares of work) instead of its pairs: one search where its pairs would take N(N−1)/2; its pairs "
        "not measured take the κ the set leaves for them",
    )
    mixes: tuple[float, ...] = Field(
        default=(0.5,),
        min_length=1,
        description="a pair is searched along these shares of the machine's work for its first model",
    )
    sets: tuple[tuple[str, ...], ...] = Field(
        default=(),
        description="sets of 3 or more models measured together at equal shares of work, to check the "
        "capacity model's prediction, e.g. `[[resnet50, mobilenet_v2, googlenet]]`",
    )

    order: Literal["sequential", "interleaved"] = Field(
        default="sequential",
        description="sequential: every λ alone, then every co-location against them; interleaved: each "
        "co-location in `blocks` blocks of λ alone of its members and the set together, in a random order "
        "per block, each block's shared capacity against its own λ alone",
    )
    blocks: int | None = Field(
        default=None,
        ge=2,
        le=20,
        description="order: interleaved: blocks per co-location; its shared capacity is their median",
    )

    @field_validator("mixes")
    @classmethod
    def _between(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < m < 1 for m in value):
            raise ValueError("mixes must lie strictly between 0 and 1")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _blocks_with_order(self) -> Self:
        if self.order == INTERLEAVED and self.blocks is None:
            raise ValueError("order: interleaved needs blocks: N (2 or more blocks per co-location)")
        if self.order == SEQUENTIAL and self.blocks is not None:
            raise ValueError("blocks: is read only with order: interleaved")
        return self

    @model_validator(mode="after")
    def _fleet(self) -> Self:
        if (self.pairs == "auto") != (self.fleet is not None):
            raise ValueError(
                "profile: pairs: auto needs a fleet (a plan file), and a fleet needs pairs: auto"
            )
        if self.auto_sets and self.pairs != "auto":
            raise ValueError("profile: auto_sets is read only with pairs: auto")
        if self.solo_by == LOOK and self.order == INTERLEAVED:
            raise ValueError("profile: solo_by: look is measured in order: sequential only")
        if self.pairs == "auto" and self.order == INTERLEAVED:
            # Its rounds plan from the sequential pass's profile; interleaved blocks measure every pair.
            raise ValueError("profile: pairs: auto is measured in order: sequential only")
        return self

    @model_serializer(mode="wrap")
    def _lean(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`order: sequential` and no `fleet` are left out: a run stored before they existed has the same
        spec (it resumes)."""
        data: dict[str, Any] = handler(self)
        if data.get("order") == SEQUENTIAL:
            del data["order"]
        if data.get("blocks") is None:
            data.pop("blocks", None)
        if data.get("fleet") is None:
            data.pop("fleet", None)
        if not data.get("auto_sets"):
            data.pop("auto_sets", None)
        if data.get("solo_by") == "search":
            del data["solo_by"]
        return data


class Settings(ExperimentBase):
    kind: Literal["profile"]
    profile: ProfileSettings = Field(description="the machine measured, and what is measured on it")

    @model_validator(mode="after")
    def _sets(self) -> Self:
        keys = self.model_keys()
        if len({t.model for t in self.models}) != len(self.models):
            raise ValueError("profile: each model once (a profile describes models, not copies)")
        for index, group in enumerate(self.profile.sets):
            if len(group) < 3 or len({self.key_of(m) for m in group}) != len(group):
                raise ValueError(f"profile.sets.{index}: 3 or more different models")
            for model in group:
                if self.key_of(model) is None:
                    raise ValueError(f"profile.sets.{index}: {unknown('model', model, keys, 'it has')}")
        return self

    PRICED = True  # λ alone is priced on the machine measured; `price.catalog` is where its id is found

    def machine_refs(self) -> dict[str, str]:
        return {**super().machine_refs(), "profile.machine": self.profile.machine}


@dataclass(frozen=True)
class Group:
    """A co-location measured: these models on one server, searched along `shares` of the machine's work."""

    where: Placement
    tenants: tuple[TenantConfig, ...]
    shares: dict[str, float]  # by model key; sum to 1

    @property
    def mix(self) -> float:
        return self.shares[self.where.models[0]] if len(self.shares) == 2 else 1 / len(self.shares)


@dataclass(frozen=True)
class Findings:
    profile: MachineProfile
    peaks: dict[str, Peak]  # λ of each model alone, as configured
    solo: dict[str, dict[str, Peak]]  # by model: λ alone at each setting measured, by the setting's label
    colocated: list[tuple[Group, Peak, Colocation]]  # each co-location: its search and what it found
    blocks: list[Block] = field(default_factory=list)  # order: interleaved: every block measured
    choices: tuple[Choice, ...] = ()  # pairs: auto: each pass's rounds of choosing pairs


def _settings(experiment: ExperimentBase) -> Settings:
    assert isinstance(experiment, Settings)
    return experiment


def groups(exp: Settings, repeat: int = 1) -> list[Group]:
    """The co-locations one pass measures (the `repeat`-th: see run)."""
    keys = exp.model_keys()
    found: list[Group] = []
    if exp.profile.pairs:
        for a, b in itertools.combinations(keys, 2):
            for mix in exp.profile.mixes:
                found.append(_group(exp, (a, b), {a: mix, b: 1 - mix}, {"mix": mix}, repeat))
    for refs in exp.profile.sets:
        models = [k for ref in refs if (k := exp.key_of(ref)) is not None]  # a name or a spec, as written
        found.append(set_group(exp, models, repeat))
    return found


def set_group(exp: Settings, models: Sequence[str], repeat: int = 1) -> Group:
    """A set of 3+ models measured together at equal shares of work (configured, or chosen by auto_sets)."""
    return _group(exp, models, {m: 1 / len(models) for m in models}, {}, repeat)


def _group(
    exp: Settings, models: Sequence[str], shares: dict[str, float], setting: Mapping[str, Scalar], repeat: int
) -> Group:
    tenant = dict(zip(exp.model_keys(), exp.models, strict=True))
    tenants = tuple(tenant[m] for m in models)
    return Group(placement(COLOCATED, tenants, models, nth(setting, repeat)), tenants, shares)


def chosen_sets(exp: Settings, trials: list[TrialRow], repeat: int) -> list[Group]:
    """auto_sets: the sets of 3+ models the rounds chose and measured (stored), beyond those configured."""
    if not exp.profile.auto_sets:
        return []
    configured = {tuple(sorted(g.shares)) for g in groups(exp, repeat) if len(g.shares) > 2}
    found: dict[tuple[str, ...], Group] = {}
    for row in trials:
        where = row.key.placement if row.key is not None else None
        if where is None or where.role != COLOCATED or len(where.models) < 3:
            continue
        models = tuple(sorted(where.models))
        group = set_group(exp, models, repeat)
        if models not in configured and group.where == where and row.key is not None:
            found.setdefault(models, group)
    return list(found.values())


def solo_settings(exp: Settings) -> list[dict[str, Scalar] | None]:
    """The settings each model is searched at alone: None (as configured), then each of `profile.solo`."""
    return [None, *(s.knobs() for s in exp.profile.solo)]


def plan(experiment: ExperimentBase) -> list[str]:
    """The phases; with pairs: auto every pair is listed, the most it may measure (the progress bar ends
    short of its end when the fleet's plan needs fewer)."""
    exp = _settings(experiment)
    return [
        label
        for repeat in repeats(exp)
        for label in [
            *(label for g in _blocked(exp, repeat) for label in labels(g, exp.profile.blocks or 0)),
            *(dedicated(exp, k, knobs, repeat).label() for knobs, k in _solo_items(exp)),
            *(confirm_label(k) for k in exp.model_keys() if exp.profile.solo),
            *(g.where.label() for g in groups(exp, repeat) if exp.profile.order == SEQUENTIAL),
        ]
    ]


def _blocked(exp: Settings, repeat: int) -> list[Group]:
    """The co-locations measured in interleaved blocks (experiments.blocks): all of them, or none."""
    return groups(exp, repeat) if exp.profile.order == INTERLEAVED else []


def _solo_items(exp: Settings) -> list[tuple[dict[str, Scalar] | None, str]]:
    """The searches of the solo stage: each model at each setting, except (interleaved) as configured
    for a model its blocks measure alone."""
    blocked = {m for g in _blocked(exp, 1) for m in g.shares}
    return [(k, m) for k in solo_settings(exp) for m in exp.model_keys() if k is not None or m not in blocked]


def _rates_at(group: Group, peaks: Mapping[str, float]) -> tuple[float, dict[str, float]]:
    """Where the search starts (the total rate at which the shares add up to one dedicated machine's
    work), and each tenant's part of a total rate."""
    work = {m: share * peaks[m] for m, share in group.shares.items()}
    total = sum(work.values())
    return total, {t: work[group.where.model_of(t)] / total for t in group.where.names}


def run(experiment: ExperimentBase, lab: Lab) -> None:
    """`repeats` whole passes, one after another: each measures every λ alone, then every co-location
    against that pass's λ, so a co-location's Σ r/λ compares rates measured within the same hour (a host's
    speed drifts over hours) and the passes' spread says how well the profile repeats. `order:
    interleaved`: each co-location's blocks come first (experiments.blocks), each against its own λ alone
    measured minutes apart; the solo stage then searches only what they did not."""
    exp = _settings(experiment)
    demand = fleet_demand(exp)  # pairs: auto; a bad fleet file is said before anything is measured
    for repeat in repeats(exp):
        # A model's λ alone as configured is then its blocks' (their centre), for choosing its best setting.
        by_blocks = lab.each(
            _blocked(exp, repeat), partial(run_blocks, exp, lab, exp.profile.blocks or 0, repeat)
        )
        measured: dict[str, list[float]] = {}
        for one in by_blocks:
            for key, rates in one.items():
                measured.setdefault(key, []).extend(rates)
        solo = _solo_items(exp)
        found = lab.each(solo, partial(_alone, exp, lab, repeat))
        solo += [(None, key) for key, rates in measured.items() if rates]
        found += [centre(rates) for rates in measured.values() if rates]
        peaks = {
            key: rps
            for (knobs, key), rps in zip(solo, found, strict=True)
            if knobs is None and rps is not None
        }
        if exp.profile.solo:
            if exp.profile.solo_by == LOOK:  # every setting compared by its look, the configured one's too
                trials = lab.trials()
                found = [look_of(exp, trials, key, knobs, repeat) for knobs, key in solo]
            chosen = [_best_knobs(key, solo, found) for key in exp.model_keys()]
            lab.each(chosen, partial(_confirm, exp, lab, repeat))
        if demand is not None:
            rounds = choose(
                demand,
                partial(_measured_so_far, exp, lab, repeat),
                partial(_measure_pairs, exp, lab, repeat, peaks),
            )
            lab.status(_chosen(rounds, exp))
        if exp.profile.order == SEQUENTIAL:
            lab.each(
                [g for g in groups(exp, repeat) if exp.profile.pairs != "auto" or len(g.shares) > 2],
                partial(_shared, lab, peaks),
            )


def fleet_demand(exp: Settings) -> Demand | None:
    """pairs: auto: the fleet whose plan chooses the pairs, on this profile's machine type (else None)."""
    if exp.profile.fleet is None:
        return None
    plan = load_plan(exp.profile.fleet)
    # A tenant names a model by its spec or its name (as `perseus plan` reads them: fleet.model_refs).
    refs = {t.model: k for k, t in zip(exp.model_keys(), exp.models, strict=True)}
    refs.update({k: k for k in exp.model_keys()})
    demand = demand_of(plan, load_catalog(plan.catalog).get(exp.profile.machine), refs)
    return replace(demand, sets=exp.profile.auto_sets)


def _measured_so_far(exp: Settings, lab: Lab, repeat: int) -> MachineProfile:
    return _pass(exp, lab.trials(), repeat, []).profile


def _measure_pairs(
    exp: Settings, lab: Lab, repeat: int, peaks: Mapping[str, float], pairs: tuple[Models, ...]
) -> bool:
    """pairs: auto: these pairs searched, each at every mix, as `pairs: true` searches every pair; sets
    of 3+ (auto_sets) at equal shares of work."""
    wanted = set(pairs)
    chosen = [g for g in groups(exp, repeat) if len(g.shares) == 2 and pair(*g.shares) in wanted]
    chosen += [set_group(exp, models, repeat) for models in pairs if len(models) > 2]
    lab.each(chosen, partial(_shared, lab, peaks))
    return True


def _chosen(choice: Choice, exp: Settings) -> str:
    every = len(exp.model_keys()) * (len(exp.model_keys()) - 1) // 2
    return (
        f"pairs: auto: {measured_text(choice.measured, every)} in {len(choice.rounds) - 1} round(s); the "
        f"plan of {exp.profile.fleet} co-locates no other pair"
    )


def measured_text(measured: Iterable[tuple[str, ...]], every: int) -> str:
    """`3 of 15 pairs measured`; with auto_sets, `…, and 2 set(s) of 3+ (holding 7 more pairs)`."""
    chosen = set(measured)
    pairs = {m for m in chosen if len(m) == 2}
    sets = chosen - pairs
    inside = {pair(a, b) for m in sets for a, b in itertools.combinations(m, 2)} - pairs
    said = f"{len(pairs)} of {every} pairs measured"
    return said + (f", and {len(sets)} set(s) of 3+ (holding {len(inside)} more pairs)" if sets else "")


def confirm_label(key: str) -> str:
    return f"confirm: {key} alone at its best setting"


def _best_knobs(
    key: str, solo: list[tuple[dict[str, Scalar] | None, str]], found: list[float | None]
) -> tuple[str, dict[str, Scalar] | None]:
    """A model's setting alone with the highest λ (None: as configured, or nothing met its SLA)."""
    mine = [(knobs, rps) for (knobs, k), rps in zip(solo, found, strict=True) if k == key and rps is not None]
    return key, max(mine, key=lambda kr: kr[1])[0] if mine else None


def _confirm(exp: Settings, lab: Lab, repeat: int, item: tuple[str, dict[str, Scalar] | None]) -> None:
    """The setting chosen as a model's best alone, searched again on a fresh server: the best of several
    noisy λs leans high, so the profile's best λ is this one. None chosen (as configured is the best):
    nothing to confirm, its λ was not chosen."""
    key, knobs = item
    label = confirm_label(key)
    if knobs is None:
        lab.phase(label)
        lab.status(f"{key}: as configured is its best setting alone: nothing chosen to confirm")
        return
    try:
        dedicated_peak(exp, lab, key, knobs, only=repeat, confirm=True, label=label)
    except SlaNotMetError as exc:
        lab.status(f"{key} alone ({knobs}), confirming: {exc}")


def _alone(exp: Settings, lab: Lab, repeat: int, item: tuple[dict[str, Scalar] | None, str]) -> float | None:
    """λ of one model alone at one knob setting, or None (said) when no rate meets its SLA; solo_by: look,
    a setting other than the configured one is only looked at (closed loop), its look returned."""
    knobs, key = item
    if knobs is not None and exp.profile.solo_by == LOOK:
        where = dedicated(exp, key, knobs, repeat)
        lab.phase(where.label())
        (name,) = where.names
        with lab.serve(where, (alone(exp, key, knobs),)) as server:
            return server.estimate()[name]
    try:
        return dedicated_peak(exp, lab, key, knobs, only=repeat)
    except SlaNotMetError as exc:
        lab.status(f"{key} alone ({knobs or 'as configured'}): {exc}")
        return None


def _shared(lab: Lab, peaks: Mapping[str, float], group: Group) -> None:
    """The shared capacity of one co-location, searched at its tenants' set shares of their λ alone."""
    lab.phase(group.where.label())
    missing = [m for m in group.shares if m not in peaks]
    if missing:
        lab.status(f"{group.where.label()}: skipped, no λ alone of {', '.join(missing)}")
        return
    start, parts = _rates_at(group, peaks)
    with lab.serve(group.where, group.tenants) as server:
        try:
            server.search(_split(parts), group.where.names, start, CAPACITY)
        except SlaNotMetError as exc:
            lab.status(f"{group.where.label()}: {exc}")


def _split(parts: Mapping[str, float]) -> RatesAt:
    return lambda total: {t: total * part for t, part in parts.items()}


def memory_alone(
    trials: list[TrialRow], exp: ExperimentBase, key: str, repeat: int = 1, where: Placement | None = None
) -> float:
    """The model's peak RSS alone (its server processes), over the λ search at its configured setting
    (`where`: on this placement, a block's)."""
    where = where or dedicated(exp, key, None, repeat)
    (name,) = where.names
    rows = trials_of(trials, where, PEAK, tenant=name)
    return max((float(t.summary.usage.get(name, {}).get("rss_peak_bytes", 0.0)) for t in rows), default=0.0)


def analyze(experiment: ExperimentBase, trials: list[TrialRow], warnings: list[str]) -> Findings:
    """Each pass's profile, merged (planner.profile.merged: λ the passes' median, every co-location kept)."""
    exp = _settings(experiment)
    passes = [_pass(exp, trials, repeat, warnings) for repeat in repeats(exp)]
    done = [p for p in passes if p.profile.models] or passes[:1]  # a pass not yet measured adds nothing
    profile = replace(merged([p.profile for p in done]), source=f"profile {exp.name!r}")
    missing = [k for k in exp.model_keys() if k not in profile.models]
    if missing:
        warnings.append(f"no λ alone for {', '.join(missing)}: the planner cannot place it on this machine")
    searched = {k: [one.peaks[k] for one in passes if k in one.peaks] for k in exp.model_keys()}
    return Findings(
        profile,
        {k: combined(found) for k, found in searched.items() if found},
        {k: {label: p for one in passes for label, p in one.solo[k].items()} for k in exp.model_keys()},
        [found for one in passes for found in one.colocated],
        [block for one in passes for block in one.blocks],
        _choices(exp, trials, [p.profile for p in passes], warnings),
    )


def _choices(
    exp: Settings, trials: list[TrialRow], passes: list[MachineProfile], warnings: list[str]
) -> tuple[Choice, ...]:
    """pairs: auto: each pass's rounds, replayed (the fleet file read again: moved or changed, the rounds
    are those of the file as it is now, or none)."""
    try:
        demand = fleet_demand(exp)
    except ConfigError as exc:
        warnings.append(f"pairs: auto: the rounds cannot be replayed: {exc}")
        return ()
    if demand is None:
        return ()
    found = tuple(
        _replayed(exp, trials, one, repeat, demand) for one, repeat in zip(passes, repeats(exp), strict=True)
    )
    for repeat, choice in zip(repeats(exp), found, strict=True):
        where = f" (pass {repeat})" if repeat > 1 else ""
        if choice.unplanned:
            warnings.append(
                f"pairs: auto{where}: tenants {', '.join(choice.unplanned)} of {exp.profile.fleet} cannot be "
                "served here (no λ alone, a stricter SLA, memory): the pairs they need were not chosen"
            )
        if not choice.finished and choice.rounds:
            warnings.append(
                f"pairs: auto{where}: round {choice.rounds[-1].number}'s pairs are not all measured yet"
            )
    return found


def pairs_note(found: Findings) -> str:
    """What a plan should know of a profile measured with pairs: auto."""
    measured = {p for choice in found.choices for p in choice.measured}
    every = len(found.profile.models) * (len(found.profile.models) - 1) // 2
    return (
        f"pairs: auto: {measured_text(measured, every)} (what its fleet's plan co-located); a machine "
        "holding a pair not measured has its κ predicted, and is flagged"
    )


def _replayed(
    exp: Settings, trials: list[TrialRow], measured: MachineProfile, repeat: int, demand: Demand
) -> Choice:
    """pairs: auto: the rounds one pass ran, chosen again from its stored trials (each round only from
    the pairs earlier rounds chose, as the run chose it); a round whose pairs are not all stored (the run
    stopped) ends them."""
    stored = {
        tuple(sorted(g.shares))
        for g in [*groups(exp, repeat), *chosen_sets(exp, trials, repeat)]
        if trials_of(trials, g.where, CAPACITY)
    }
    return choose(demand, lambda: measured, lambda pairs: set(pairs) <= stored)


@dataclass(frozen=True)
class _Pass:
    profile: MachineProfile
    peaks: dict[str, Peak]  # by model: λ alone as configured
    solo: dict[str, dict[str, Peak]]  # by model and setting label (pass 2 on: "label · pass N")
    colocated: list[tuple[Group, Peak, Colocation]]
    blocks: list[Block] = field(default_factory=list)


def _pass(exp: Settings, trials: list[TrialRow], repeat: int, warnings: list[str]) -> _Pass:
    """What one pass measured: λ alone at each setting, and each co-location against that pass's λ."""
    keys = exp.model_keys()
    blocked = _blocked(exp, repeat)
    interleaved = analyze_blocks(exp, trials, blocked, exp.profile.blocks or 0, repeat, warnings)
    measured: dict[str, list[tuple[dict[str, Scalar] | None, Peak]]] = {k: [] for k in keys}
    for knobs in solo_settings(exp):
        for key in keys:
            where = dedicated(exp, key, knobs, repeat)
            (name,) = where.names
            if knobs is None and blocked and any(key in g.shares for g in blocked):
                found = interleaved.alone.get(key)
            else:
                found = peak(trials, where, PEAK, name, exp.search.how, f"{key} dedicated", tenant=name)
            if found is not None:
                measured[key].append((knobs, found))
    suffix = f" · pass {repeat}" if repeat > 1 else ""
    solo = {key: {_label(exp, key, k) + suffix: p for k, p in found} for key, found in measured.items()}
    peaks = {key: p for key, found in measured.items() for knobs, p in found if knobs is None}
    models: dict[str, ModelProfile] = {}
    for key, found in peaks.items():
        confirmed = _confirmation(exp, trials, key, repeat)
        if (
            confirmed is not None
            and confirmed[1] is not None
            and all(k != confirmed[0] for k, _ in measured[key])
        ):
            measured[key].append((confirmed[0], confirmed[1]))  # solo_by: look: searched once chosen, only
            solo[key][_label(exp, key, confirmed[0]) + suffix] = confirmed[1]
        knobs, best = _confirmed_best(exp, trials, key, repeat, found, measured[key])
        gains = tuple(
            (alone_setting(exp, key, k), (best if k == knobs else p).total_rps / found.total_rps)
            for k, p in measured[key]
        )
        models[key] = ModelProfile(
            key,
            found.total,
            best.total,
            alone_setting(exp, key, knobs),
            memory_alone(trials, exp, key, repeat, interleaved.first_alone.get(key)),
            sla_text(exp, key),
            exp.models[keys.index(key)],
            gains,
        )
    colocated: list[tuple[Group, Peak, Colocation]] = []
    rest: list[Colocation] = []  # co-locations measured where no rate met every SLA
    searched_groups = [*groups(exp, repeat), *chosen_sets(exp, trials, repeat)]
    for group in searched_groups if not blocked else []:  # interleaved: each block's own λ alone
        if any(m not in peaks for m in group.shares):
            continue
        found_at = peak(trials, group.where, CAPACITY, None, exp.search.how, group.where.label())
        start, _ = _rates_at(group, {m: p.total_rps for m, p in peaks.items()})
        if found_at is None:
            tried = trials_of(trials, group.where, CAPACITY)
            if tried:  # measured: even the lowest rate tried missed an SLA, so shared capacity is below it
                lowest = min(sum(offered(t).values()) for t in tried) / start
                warnings.append(
                    f"{group.where.label()}: no rate met every SLA (shared capacity < {lowest:.2f}): "
                    "the planner never puts these models together"
                )
                infeasible = Estimate(0.0, 0.0, lowest, 1)
                rest.append(Colocation(group.where.models, {}, infeasible, group.mix))
            continue
        point = Colocation(
            group.where.models, found_at.rates_rps, found_at.total.scaled(1 / start), group.mix
        )
        colocated.append((group, found_at, point))
    colocated += interleaved.points
    rest += interleaved.infeasible
    points = tuple(point for _, _, point in colocated) + tuple(rest)
    searched = [k for k in keys if trials_of(trials, dedicated(exp, k, None, repeat), PEAK)]
    searched += [k for k in keys if k in interleaved.searched and k not in searched]
    unmet = {k: sla_text(exp, k) for k in searched if k not in peaks}
    machine = MachineProfile(exp.profile.machine, models, points, unmet=unmet)
    return _Pass(machine, peaks, solo, colocated, interleaved.blocks)


def _confirmed_best(
    exp: Settings,
    trials: list[TrialRow],
    key: str,
    repeat: int,
    shared_at: Peak,
    measured: list[tuple[dict[str, Scalar] | None, Peak]],
) -> tuple[dict[str, Scalar] | None, Peak]:
    """A model's best setting alone and its λ: the setting confirmed (searched again after it was chosen)
    at the confirmation's λ, or as configured where that is higher; with no confirmation stored (a run
    from before them), the best measured."""
    confirmed = _confirmation(exp, trials, key, repeat)
    if confirmed is not None:
        knobs, again = confirmed
        if again is None or again.total_rps <= shared_at.total_rps:
            return None, shared_at
        return knobs, again
    return max(measured, key=lambda item: item[1].total_rps)


def _confirmation(
    exp: Settings, trials: list[TrialRow], key: str, repeat: int
) -> tuple[dict[str, Scalar], Peak | None] | None:
    """The setting searched again after it was chosen as the model's best alone, and that search's λ (None:
    no rate met its SLA); None when no confirmation is stored."""
    for knobs in solo_settings(exp):  # solo_by: look: the setting confirmed is the only one searched
        if knobs is None:
            continue
        where = dedicated(exp, key, knobs, repeat, confirm=True)
        (name,) = where.names
        if trials_of(trials, where, PEAK, tenant=name):
            return knobs, peak(trials, where, PEAK, name, exp.search.how, f"{key} confirmed", tenant=name)
    return None


def look_of(
    exp: Settings, trials: list[TrialRow], key: str, knobs: Mapping[str, Scalar] | None, repeat: int = 1
) -> float | None:
    """A model's closed-loop look alone at a setting (req/s; the look a search starts from), None if none
    is stored."""
    where = dedicated(exp, key, knobs, repeat)
    (name,) = where.names
    looks = trials_of(trials, where, ESTIMATE, tenant=name)
    rate = float(looks[-1].summary.value(name, "throughput_rps", 0.0)) if looks else 0.0
    return rate if rate > 0 else None


def _label(exp: Settings, key: str, knobs: dict[str, Scalar] | None) -> str:
    """The setting as reports name it (`instances=2, intra_op_threads=1`, or `defaults`)."""
    return ", ".join(f"{k}={v}" for k, v in alone_setting(exp, key, knobs).items()) or "defaults"


def sla_text(exp: ExperimentBase, key: str) -> str:
    target = exp.sla_of(key)
    return f"p{target.percentile:g}={target.threshold_ns / 1e6:g}ms"
