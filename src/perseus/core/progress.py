"""How long work reports progress without knowing about terminals (the CLI draws the bars)."""

from typing import Protocol


class Reporter(Protocol):
    def status(self, text: str) -> None:
        """A one-line note: exporting a model, starting a server."""

    def trial(self, label: str, index: int, total: int) -> None:
        """Trial `index` (0-based) of `total` starts."""

    def tick(self, fraction: float) -> None:
        """Fraction of the current trial done, 0..1."""


class NullReporter:
    def status(self, text: str) -> None:
        pass

    def trial(self, label: str, index: int, total: int) -> None:
        pass

    def tick(self, fraction: float) -> None:
        pass
