"""Pydantic models for every user-facing setting (serving, experiments, prices)."""

from perseus.config.serving import ServerConfig, TenantConfig

__all__ = ["ServerConfig", "TenantConfig"]
