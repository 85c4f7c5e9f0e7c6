"""Seeds derived from what names a draw: a trial's arrivals (loadgen), a profile block's order
(experiments.blocks)."""

import hashlib
import json

SEED_BITS = 53  # a derived seed stays exact in any JSON reader that holds numbers as doubles


def derive_seed(*parts: str | int) -> int:
    """The seed of whatever `parts` name (a run and a trial's key, a --seed and a sweep level): the same
    parts give the same seed on every host and every run (a stable hash, not Python's salted `hash`),
    so a trial can be drawn again; different parts give seeds whose schedules are independent (numpy's
    SeedSequence spreads any two seeds apart, so nearby seeds are no worse than distant ones)."""
    digest = hashlib.blake2b(json.dumps(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - SEED_BITS)
