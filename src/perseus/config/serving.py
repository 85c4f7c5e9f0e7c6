"""What to serve: tenants (one Triton model each) and the server's addresses."""

from pydantic import BaseModel, ConfigDict, Field

LOOPBACK = "127.0.0.1"


class TenantConfig(BaseModel):
    """One tenant = one model in the server, with its isolation knobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        description="zoo/synthetic/BYO model spec, e.g. resnet50 or synthetic-sleep:service_ms=20"
    )
    instances: int = Field(default=1, ge=1, le=64, description="Triton instance_group count (stub processes)")
    max_batch_size: int = Field(default=8, ge=1, le=1024)
    intra_op_threads: int = Field(
        default=0, ge=0, le=256, description="onnxruntime intra-op threads; 0 = all cores"
    )
    allow_spinning: bool = Field(
        default=False,
        description="onnxruntime worker spin-waiting; off by default because spinning threads of co-located "
        "tenants steal each other's cores",
    )


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenants: tuple[TenantConfig, ...] = Field(min_length=1)
    host: str = LOOPBACK
    http_port: int | None = Field(default=None, ge=1, le=65535)
    grpc_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    ready_timeout_s: float = Field(default=180.0, gt=0)
