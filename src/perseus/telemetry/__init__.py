"""Telemetry: per-tenant CPU and memory, host CPU, Triton /metrics and GPU samples over time."""
