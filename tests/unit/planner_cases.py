"""Profiles and problems built by hand for the planner's tests and benchmark: every λ, κ and memory given."""

from collections.abc import Mapping

from perseus.core.interval import Estimate
from perseus.planner.capacity import fit
from perseus.planner.problem import MachineType, Problem, Tenant
from perseus.planner.profile import Colocation, MachineProfile, ModelProfile

GIB = 2.0**30
SLA = "p95=100ms"


def machine_profile(
    machine: str,
    lam: Mapping[str, float],
    kappa: Mapping[tuple[str, ...], float] = {},
    best: Mapping[str, float] = {},
    memory_gib: Mapping[str, float] = {},
) -> MachineProfile:
    """λ per model (best λ alone defaults to it), κ per measured pair (or set of 3+, measured at equal
    shares), memory per model (default 0.5 GiB)."""
    models = {
        m: ModelProfile(
            m,
            Estimate.exact(rate),
            Estimate.exact(best.get(m, rate)),
            {},
            memory_gib.get(m, 0.5) * GIB,
            SLA,
        )
        for m, rate in lam.items()
    }
    points = tuple(
        Colocation(models, {m: (1 - k) / len(models) * lam[m] for m in models}, Estimate.exact(1 - k))
        for models, k in kappa.items()
    )
    return MachineProfile(machine, models, points, "by hand")


def machine_type(profile: MachineProfile, usd_per_h: float, memory_gib: float = 8.0) -> MachineType:
    return MachineType(profile.machine, usd_per_h, memory_gib * GIB, fit(profile))


def problem(tenants: Mapping[str, tuple[str, float]], *types: MachineType) -> Problem:
    """Tenants by name: (model, req/s)."""
    return Problem(tuple(Tenant(n, m, r, SLA) for n, (m, r) in tenants.items()), types)
