"""The paper's cost arithmetic: $ per inference from $/h and throughput; the saving of sharing, and the
dedicated serving it is measured against (each model alone at the best setting a run measured)."""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from perseus.core.errors import ConfigError
from perseus.core.interval import Estimate, searches_of

Knob = str | int | float | bool | None


def cost_per_million_usd(price_usd_per_h: float, throughput_rps: float) -> float:
    """$ per 1M inferences on a machine billed price_usd_per_h serving throughput_rps."""
    if throughput_rps <= 0:
        raise ConfigError("throughput must be > 0 to price an inference")
    return price_usd_per_h / (3600.0 * throughput_rps) * 1e6


def sharing_saving(rates_rps: Mapping[str, float], peaks_rps: Mapping[str, float]) -> float:
    """1 − 1/Σ(r_i/λ_i): the machines dedicated serving needs for these rates is Σ r_i/λ_i, sharing needs 1.

    Negative when the shared server carries less than one dedicated machine's worth of work.
    """
    missing = sorted(set(rates_rps) - set(peaks_rps))
    if missing:
        raise ConfigError(f"no dedicated peak for {', '.join(missing)}")
    if any(peaks_rps[m] <= 0 for m in rates_rps):
        raise ConfigError("dedicated peaks must be > 0")
    machines = sum(rate / peaks_rps[model] for model, rate in rates_rps.items())
    if machines <= 0:
        raise ConfigError("the shared rates must not all be 0")
    return 1.0 - 1.0 / machines


@dataclass(frozen=True)
class Alone:
    """One way to serve a model on a machine of its own: its dedicated peak λ at one measured setting."""

    model: str
    rps: float
    setting: Mapping[str, Knob]  # the knobs it was served with, e.g. {"instances": 2}; empty: the defaults
    interval: Estimate | None = None  # λ's interval (None: taken as exact)

    @property
    def lam(self) -> Estimate:
        return self.interval or Estimate.exact(self.rps)


def best_alone(measured: Iterable[Alone]) -> dict[str, Alone]:
    """Per model, the cheapest way measured to serve it alone: its highest λ over every setting measured
    (the first of equal ones). A saving against any slower dedicated setting credits sharing with what a
    better-tuned dedicated server would have saved anyway."""
    best: dict[str, Alone] = {}
    for alone in measured:
        if alone.model not in best or alone.rps > best[alone.model].rps:
            best[alone.model] = alone
    return best


def saving_against(rates_rps: Mapping[str, float], against: Mapping[str, Alone]) -> float:
    """sharing_saving with each model's dedicated peak taken from `against` (see best_alone)."""
    return sharing_saving(rates_rps, {model: alone.rps for model, alone in against.items()})


def saving_interval(rates: Mapping[str, Estimate], against: Mapping[str, Alone]) -> Estimate:
    """The saving with its interval: the saving is larger with more shared throughput and smaller dedicated
    peaks, so its low end takes the rates' lows and the peaks' highs, its high end the reverse (interval
    arithmetic: at least as wide as the parts' own intervals allow).

    Total over what a stored run can hold, so no report of one fails: an end whose dedicated peak is 0
    saves 1 (every dedicated machine serves nothing), one whose shared rates are all 0 saves −∞, and a
    model with no dedicated peak makes it NaN (reports print "-")."""

    def at(pick_rate: str, pick_peak: str) -> float:
        machines = 0.0
        for model, rate in rates.items():
            shared, alone = getattr(rate, pick_rate), against.get(model)
            if alone is None:
                return math.nan
            peak = getattr(alone.lam, pick_peak)
            if shared > 0:
                machines += shared / peak if peak > 0 else math.inf
        return 1.0 - 1.0 / machines if machines > 0 else -math.inf

    parts = [*rates.values(), *(a.lam for a in against.values())]
    value, low, high = at("value", "value"), at("low", "high"), at("high", "low")
    low, high = min(low, value), max(high, value)  # a part whose interval excludes its value stays inside
    return Estimate(value, low, high, searches_of(parts), any(p.min_max for p in parts))
