"""What a stored trial says about its SLAs: feasible for a peak search (met every SLA with no overload,
errors or late sends), and whether only the measurement itself was in doubt. Read by the searches that run
probes and by the analyses that report them, so both judge a trial the same way."""

from collections.abc import Iterable

from perseus.core.errors import ConfigError
from perseus.core.sla import parse_sla
from perseus.store.db import TrialRow

# Reasons (from loadgen.rules) that disqualify a probe; "unstable" alone only flags it.
BLOCKING = ("too few requests", "too many errors", "generator fell behind", "overloaded", "too short")


def reasons(trial: TrialRow) -> list[str]:
    return [part.strip() for part in (trial.reason or "").split(";") if part.strip()]


def feasible(trial: TrialRow, tenants: Iterable[str]) -> tuple[bool, str]:
    """Every tenant met its SLA over the whole measured window, with no overload, errors or late sends.

    A probe whose windows did not agree within the stability tolerance still counts (it is flagged):
    at a few dozen requests per window the windows of a steady queue differ by more than ±10% by chance,
    and the SLA is judged on all the window's requests together.
    """
    tenants = list(tenants)
    if trial.status == "failed":
        return False, f"failed: {trial.reason}"
    blocking = [part for part in reasons(trial) if part.startswith(BLOCKING)] + too_few(trial, tenants)
    if blocking:
        return False, "; ".join(blocking)
    summary = trial.summary
    missed = [t for t in tenants if not summary.value(t, "sla_met")]
    if missed:
        return False, "; ".join(_missed(trial, t) for t in missed)
    return True, "ok" if trial.status == "valid" else f"ok (flagged: {trial.reason})"


def _missed(trial: TrialRow, tenant: str) -> str:
    if tenant not in trial.summary.tenants:
        return f"{tenant} served nothing"
    label = trial.summary.value(tenant, "sla")
    try:
        target = parse_sla(label)
    except ConfigError:
        return f"{tenant} {label} missed"
    seen = trial.summary.value(tenant, target.key.replace(".", "_"))  # p99.9 is stored as p99_9_ms
    return f"{tenant} {label} missed" + (f" (p{target.percentile:g} {seen:.1f} ms)" if seen else "")


def too_few(trial: TrialRow, tenants: Iterable[str]) -> list[str]:
    """Tenants whose SLA percentile rests on too few latencies to be judged (a p95 of 12 requests is their
    largest): a tenant offered a small share of a trial's load, whatever the trial's total."""
    found = []
    for tenant in tenants:
        label = trial.summary.value(tenant, "sla")
        if not label or tenant not in trial.summary.tenants:
            continue
        try:
            need = parse_sla(label).min_samples
        except ConfigError:  # a label this version does not read: judged on its verdict alone
            continue
        got = trial.summary.value(tenant, "requests")  # every summary the load generator writes has it
        if got is not None and got < need:
            found.append(f"too few requests to judge {tenant}'s {label}: {got} (need {need})")
    return found


# Other processes took this host's CPU while a local server was measured (orchestrate.trial says so).
HOST_BUSY = "host busy"
# Reasons that doubt the measurement rather than the server: the windows disagreed, the host delayed the
# load generator's sends (on a 2-core host the server's threads take its wake-ups now and then), or other
# processes took CPU from the server under test.
DOUBTS = ("unstable", "generator fell behind", HOST_BUSY)


def doubtful(trial: TrialRow) -> bool:
    """INVALID only for doubts about the measurement: worth one more attempt. A late generator counts
    only when every tenant met its SLA anyway (a missed SLA would not be met by measuring again)."""
    if trial.status != "invalid" or not all(part.startswith(DOUBTS) for part in reasons(trial)):
        return False
    late = any(part.startswith("generator fell behind") for part in reasons(trial))
    return not late or all(s.get("sla_met") is not False for s in trial.summary.tenants.values())
