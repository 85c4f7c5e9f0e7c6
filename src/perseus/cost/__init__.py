"""Money: cost per inference and the saving of sharing, as pure functions over stored results."""

from perseus.cost.saving import cost_per_million_usd, sharing_saving

__all__ = ["cost_per_million_usd", "sharing_saving"]
