"""Server-side breakdown of a trial per model, from two /metrics snapshots: batches, queue vs compute."""

import math
from dataclasses import asdict, dataclass

from perseus.telemetry.triton_metrics import ModelCounters, TritonMetrics


@dataclass(frozen=True, slots=True)
class ModelBreakdown:
    """What Triton did for one model between two snapshots.

    Times are means per successful request, in µs (Triton accumulates its duration counters over
    successful requests only). Triton credits every request of a dynamic batch with the whole batch's
    compute time, so compute_*_us is the duration of the batch a request rode in, not a share of it.
    None where nothing happened (no request or no execution), never a division error.
    """

    model: str
    requests: int  # successful requests
    failures: int
    inferences: int  # a batch-n request counts n
    executions: int  # model executions (one per batch)
    avg_batch_size: float | None  # inferences / executions
    request_us: float | None  # total time inside the server
    queue_us: float | None
    compute_input_us: float | None
    compute_infer_us: float | None
    compute_output_us: float | None

    def as_dict(self) -> dict[str, str | int | float | None]:
        return asdict(self)


def _delta(before: float, after: float) -> float | None:
    """Counter increase; a counter that went down means the server restarted in between and counts from
    zero again (as Prometheus' rate() assumes). None when either end is not a finite number."""
    if not (math.isfinite(before) and math.isfinite(after)):
        return None
    return after - before if after >= before else after


def _count(before: float, after: float) -> int:
    """A count for display; 0 when unknown (the means built on it are then None)."""
    delta = _delta(before, after)
    return 0 if delta is None else round(delta)


def _per(total: float | None, count: int) -> float | None:
    return None if total is None or count <= 0 else total / count


def model_breakdown(model: str, before: ModelCounters, after: ModelCounters) -> ModelBreakdown:
    requests = _count(before.request_success, after.request_success)
    inferences = _count(before.inference_count, after.inference_count)
    executions = _count(before.exec_count, after.exec_count)

    def mean_us(attr: str) -> float | None:
        return _per(_delta(getattr(before, attr), getattr(after, attr)), requests)

    return ModelBreakdown(
        model=model,
        requests=requests,
        failures=_count(before.request_failure, after.request_failure),
        inferences=inferences,
        executions=executions,
        avg_batch_size=_per(_delta(before.inference_count, after.inference_count), executions),
        request_us=mean_us("request_duration_us"),
        queue_us=mean_us("queue_duration_us"),
        compute_input_us=mean_us("compute_input_duration_us"),
        compute_infer_us=mean_us("compute_infer_duration_us"),
        compute_output_us=mean_us("compute_output_duration_us"),
    )


def breakdown(before: TritonMetrics, after: TritonMetrics) -> dict[str, ModelBreakdown]:
    """Per model served at `after`; a model absent `before` (loaded in between) counts from zero."""
    return {
        model: model_breakdown(model, before.models.get(model, ModelCounters()), counters)
        for model, counters in after.models.items()
    }
