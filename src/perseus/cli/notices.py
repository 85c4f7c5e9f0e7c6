"""Telemetry notices worth printing: a host fact such as "no GPU" is said once per PERSEUS_HOME (it stays in
every stored trial and in --json), anything else every time it happens."""

from collections.abc import Iterable
from contextlib import suppress

from perseus.core.files import atomic_write_text
from perseus.core.paths import perseus_home

ONCE = ("GPU telemetry skipped: no GPU",)
SHOWN_FILE = "notices-shown.txt"


def worth_showing(notices: Iterable[str]) -> list[str]:
    """The notices, each once, without the host facts already shown on this PERSEUS_HOME (now marked)."""
    unique = list(dict.fromkeys(notices))
    marker = perseus_home() / SHOWN_FILE
    try:
        shown = set(marker.read_text().splitlines())
    except OSError:
        shown = set()
    fresh = [n for n in unique if n.startswith(ONCE) and n not in shown]
    if fresh:
        # An unwritable home shows the notice again next time; nothing else depends on it.
        with suppress(OSError):
            atomic_write_text(marker, "".join(f"{line}\n" for line in sorted(shown | set(fresh))))
    return [n for n in unique if not n.startswith(ONCE) or n in fresh]
