"""Settings of the headline experiment (`perseus demo`)."""

from pydantic import BaseModel, ConfigDict, Field

# GCP n2-standard-2 (2 vCPU, 8 GB) on-demand, us-central1, Compute Engine list price.
DEFAULT_PRICE_USD_PER_H = 0.097118
DEFAULT_MACHINE = "gcp n2-standard-2 on-demand (us-central1)"


class DemoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    models: tuple[str, str] = ("resnet50", "mobilenet_v2")
    sla_p95_ms: float = Field(default=750.0, gt=0)
    concurrencies: tuple[int, ...] = Field(default=(1, 2, 4, 8), min_length=1)
    warmup_s: float = Field(default=2.0, ge=0)
    trial_s: float = Field(default=8.0, gt=0)
    price_usd_per_h: float = Field(default=DEFAULT_PRICE_USD_PER_H, gt=0)
    machine: str = DEFAULT_MACHINE
    instances: int = Field(default=1, ge=1)
