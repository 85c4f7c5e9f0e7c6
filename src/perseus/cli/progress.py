"""Rich progress bars behind the Reporter protocol."""

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class RichReporter:
    """One bar over all trials of a run; status lines printed above it. Quiet: nothing at all (--json)."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console, self.quiet = console, quiet
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.1f}/{task.total:.0f} trials"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._index = 0

    def __enter__(self) -> "RichReporter":
        # The bar is drawn from the first trial on: a run refused before it (a typo) leaves no empty bar.
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None and not self.quiet:  # stopping a bar never drawn still prints a line
            self._progress.stop()

    def status(self, text: str) -> None:
        if not self.quiet:
            self._progress.console.print(f"[dim]· {text}[/dim]")

    def trial(self, label: str, index: int, total: int) -> None:
        if self._task is None:
            if not self.quiet:
                self._progress.start()
            self._task = self._progress.add_task(label, total=total)
        self._index = index
        self._progress.update(self._task, description=label, completed=index, total=total)

    def tick(self, fraction: float) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=self._index + fraction)
