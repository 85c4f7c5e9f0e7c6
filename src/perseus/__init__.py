"""perseus: performance and monetary cost of multi-tenant vs dedicated CNN serving."""

__version__ = "0.1.0"
