"""Money: cost per inference and the saving of sharing, as pure functions over stored results."""

from perseus.cost.saving import Alone, best_alone, cost_per_million_usd, saving_against, sharing_saving

__all__ = ["Alone", "best_alone", "cost_per_million_usd", "saving_against", "sharing_saving"]
