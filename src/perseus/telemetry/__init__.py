"""Telemetry: per-tenant CPU and memory, host CPU, Triton /metrics and GPU samples over time."""

from perseus.core.records import Sample
from perseus.telemetry.breakdown import ModelBreakdown, breakdown
from perseus.telemetry.gpu import GpuReading, NvmlGpus, available
from perseus.telemetry.processes import (
    CpuLedger,
    HostTimes,
    ProcessTable,
    ProcReading,
    PsutilTable,
    TenantUsage,
    read_tenants,
)
from perseus.telemetry.sampler import DEFAULT_INTERVAL_S, Sampler
from perseus.telemetry.triton_metrics import GpuGauges, ModelCounters, TritonMetrics, parse, scrape

__all__ = [
    "DEFAULT_INTERVAL_S",
    "CpuLedger",
    "GpuGauges",
    "GpuReading",
    "HostTimes",
    "ModelBreakdown",
    "ModelCounters",
    "NvmlGpus",
    "ProcReading",
    "ProcessTable",
    "PsutilTable",
    "Sample",
    "Sampler",
    "TenantUsage",
    "TritonMetrics",
    "available",
    "breakdown",
    "parse",
    "read_tenants",
    "scrape",
]
