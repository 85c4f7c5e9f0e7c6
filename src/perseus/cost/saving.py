"""The paper's cost arithmetic: $ per inference from $/h and throughput; saving of sharing."""

from collections.abc import Mapping

from perseus.core.errors import ConfigError


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
