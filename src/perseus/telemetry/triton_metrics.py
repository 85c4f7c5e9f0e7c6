"""Triton's Prometheus /metrics text → a frozen snapshot of per-model counters and server gauges."""

import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from perseus.core.errors import EndpointError

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}

# Triton metric name → ModelCounters field. Every series of a model is summed (over versions, and over
# failure reasons for request_failure), so one model is one row whatever its label set.
_MODEL_METRICS = {
    "nv_inference_request_success": "request_success",
    "nv_inference_request_failure": "request_failure",
    "nv_inference_count": "inference_count",
    "nv_inference_exec_count": "exec_count",
    "nv_inference_request_duration_us": "request_duration_us",
    "nv_inference_queue_duration_us": "queue_duration_us",
    "nv_inference_compute_input_duration_us": "compute_input_duration_us",
    "nv_inference_compute_infer_duration_us": "compute_infer_duration_us",
    "nv_inference_compute_output_duration_us": "compute_output_duration_us",
    "nv_inference_pending_request_count": "pending_request_count",
}
_SERVER_GAUGES = {
    "nv_cpu_utilization": "cpu_utilization",
    "nv_cpu_memory_used_bytes": "cpu_memory_used_bytes",
    "nv_cpu_memory_total_bytes": "cpu_memory_total_bytes",
}
_GPU_GAUGES = {
    "nv_gpu_utilization": "utilization",
    "nv_gpu_memory_used_bytes": "memory_used_bytes",
    "nv_gpu_memory_total_bytes": "memory_total_bytes",
    "nv_gpu_power_usage": "power_w",
}


@dataclass(frozen=True, slots=True)
class PromSample:
    """One line of the Prometheus text format: `name{labels} value [timestamp]`."""

    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class ModelCounters:
    """Cumulative since the server started (pending_request_count is instantaneous)."""

    request_success: float = 0.0
    request_failure: float = 0.0
    inference_count: float = 0.0  # a batch-n request counts n
    exec_count: float = 0.0  # model executions: one per (dynamic) batch
    request_duration_us: float = 0.0
    queue_duration_us: float = 0.0
    compute_input_duration_us: float = 0.0
    compute_infer_duration_us: float = 0.0
    compute_output_duration_us: float = 0.0
    pending_request_count: float = 0.0


@dataclass(frozen=True, slots=True)
class GpuGauges:
    utilization: float | None = None  # fraction 0..1
    memory_used_bytes: float | None = None
    memory_total_bytes: float | None = None
    power_w: float | None = None


@dataclass(frozen=True)
class TritonMetrics:
    """One scrape. The server gauges are None when Triton does not publish them (e.g. CPU metrics off)."""

    t_ns: int  # monotonic clock when scraped (0 when parsed from text alone)
    models: Mapping[str, ModelCounters] = field(default_factory=lambda: MappingProxyType({}))
    cpu_utilization: float | None = None  # fraction of the whole host, 0..1, over Triton's last interval
    cpu_memory_used_bytes: float | None = None
    cpu_memory_total_bytes: float | None = None
    gpus: Mapping[str, GpuGauges] = field(default_factory=lambda: MappingProxyType({}))  # by gpu_uuid
    unparsed_lines: int = 0  # lines that were neither comments nor valid samples


def _parse_labels(text: str, start: int) -> tuple[dict[str, str], int]:
    """Labels from just after `{`; returns them and the index after the closing `}`."""
    labels: dict[str, str] = {}
    i = start
    while True:
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "}":
            return labels, i + 1
        name = _LABEL_NAME.match(text, i)
        if name is None:
            raise ValueError("bad label name")
        i = name.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if text[i : i + 1] != "=":
            raise ValueError("expected =")
        i += 1
        while i < len(text) and text[i] in " \t":
            i += 1
        if text[i : i + 1] != '"':
            raise ValueError("expected a quoted label value")
        i += 1
        value: list[str] = []
        while True:
            if i >= len(text):
                raise ValueError("unterminated label value")
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                # Unknown escapes stay as written, as the Prometheus parser does.
                value.append(_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
                i += 2
            elif char == '"':
                i += 1
                break
            else:
                value.append(char)
                i += 1
        labels[name.group()] = "".join(value)
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == ",":
            i += 1
        elif i >= len(text) or text[i] != "}":
            raise ValueError("expected , or }")


def _parse_value(token: str) -> float:
    if "_" in token:  # float() takes 1_000; the exposition format does not
        raise ValueError(token)
    return float(token)  # also NaN, +Inf, -Inf in Prometheus' spelling


def parse_line(line: str) -> PromSample | None:
    """One sample line, or None for blank and comment lines. Raises ValueError on a malformed line."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    name = _NAME.match(line)
    if name is None:
        raise ValueError("bad metric name")
    labels: dict[str, str] = {}
    i = name.end()
    if i < len(line) and line[i] == "{":
        labels, i = _parse_labels(line, i + 1)
    rest = line[i:].split()
    if not 1 <= len(rest) <= 2 or line[i] not in " \t":
        raise ValueError("expected a value and an optional timestamp")
    if len(rest) == 2:
        int(rest[1])  # a timestamp in ms; we stamp scrapes ourselves, but a bad one marks a bad line
    return PromSample(name.group(), MappingProxyType(labels), _parse_value(rest[0]))


def parse(text: str, t_ns: int = 0) -> TritonMetrics:
    """A snapshot from /metrics text. Unknown metrics are ignored; malformed lines are only counted."""
    models: dict[str, dict[str, float]] = {}
    server: dict[str, float] = {}
    gpus: dict[str, dict[str, float]] = {}
    unparsed = 0
    for line in text.splitlines():
        try:
            sample = parse_line(line)
        except ValueError:
            unparsed += 1
            continue
        if sample is None:
            continue
        if sample.name in _MODEL_METRICS and "model" in sample.labels:
            counters = models.setdefault(sample.labels["model"], {})
            key = _MODEL_METRICS[sample.name]
            counters[key] = counters.get(key, 0.0) + sample.value
        elif sample.name in _SERVER_GAUGES:
            server[_SERVER_GAUGES[sample.name]] = sample.value
        elif sample.name in _GPU_GAUGES:
            gpu = gpus.setdefault(sample.labels.get("gpu_uuid", ""), {})
            gpu[_GPU_GAUGES[sample.name]] = sample.value
    return TritonMetrics(
        t_ns=t_ns,
        models=MappingProxyType({name: ModelCounters(**values) for name, values in sorted(models.items())}),
        cpu_utilization=server.get("cpu_utilization"),
        cpu_memory_used_bytes=server.get("cpu_memory_used_bytes"),
        cpu_memory_total_bytes=server.get("cpu_memory_total_bytes"),
        gpus=MappingProxyType({uuid: GpuGauges(**values) for uuid, values in sorted(gpus.items())}),
        unparsed_lines=unparsed,
    )


def scrape(url: str, timeout_s: float = 2.0, clock: Callable[[], int] = time.monotonic_ns) -> TritonMetrics:
    """GET url (Triton's /metrics) and parse it; EndpointError with one line when it cannot be read.

    Proxies from the environment are bypassed: the metrics endpoint is ours (normally on loopback), and
    an http_proxy setting must not route it elsewhere.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    before_ns = clock()
    try:
        with opener.open(url, timeout=timeout_s) as response:
            text = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        raise EndpointError(f"cannot read Triton metrics at {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise EndpointError(f"cannot read Triton metrics at {url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, malformed URLs
        raise EndpointError(f"cannot read Triton metrics at {url}: {exc or type(exc).__name__}") from None
    # Triton reads its counters somewhere between our send and its reply: stamp the midpoint.
    return parse(text, t_ns=(before_ns + clock()) // 2)


def counters_as_dict(counters: ModelCounters) -> dict[str, float]:
    return {f.name: getattr(counters, f.name) for f in fields(counters)}
