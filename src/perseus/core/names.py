"""Naming a value that is not among the valid ones: the line that says so, lists the valid ones and, when
one is close (difflib), asks "did you mean …"."""

import difflib
from collections.abc import Sequence


def closest(value: str, choices: Sequence[str]) -> str | None:
    """The choice most like `value` if one is close enough to be a typo of it, else None."""
    found = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(value: str, choices: Sequence[str]) -> str:
    """` (did you mean 'x'?)` when a choice is close to `value`, else an empty string."""
    close = closest(value, choices)
    return f" (did you mean {close!r}?)" if close is not None else ""


def unknown(what: str, value: str, choices: Sequence[str], among: str = "known") -> str:
    """`unknown machine 'gcp-n2-standad-2' (did you mean 'gcp-n2-standard-2'?); known: a, b, c`."""
    listed = ", ".join(choices) if choices else "(none)"
    return f"unknown {what} {value!r}{did_you_mean(value, choices)}; {among}: {listed}"
