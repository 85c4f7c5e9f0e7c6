"""A measured frontier of feasible (r_A, r_B) pairs as a CSV file (ours, the paper's, perf_analyzer's)."""

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from perseus.core.errors import ConfigError


@dataclass(frozen=True)
class Frontier:
    models: tuple[str, str]
    points: list[tuple[float, float]]  # feasible (r_A, r_B) pairs in req/s, in file order


def read_frontier(path: Path) -> Frontier:
    """A CSV whose header names the two models; each row a feasible pair of rates in req/s."""
    try:
        with path.open(newline="") as handle:
            rows = [row for row in csv.reader(handle) if row and not row[0].lstrip().startswith("#")]
    except OSError as exc:
        raise ConfigError(f"cannot read frontier {path}: {exc.strerror}") from None
    if not rows or len(rows[0]) != 2:
        raise ConfigError(f"{path}: the header must name exactly two models, e.g. resnet50,mobilenet_v2")
    a, b = (name.strip() for name in rows[0])
    if not a or not b or a == b:
        raise ConfigError(f"{path}: the header must name two different models, got {rows[0]}")
    points = []
    for line_no, row in enumerate(rows[1:], start=2):
        try:
            r_a, r_b = (float(value) for value in row)
        except ValueError:
            raise ConfigError(f"{path}:{line_no}: expected two rates in req/s, got {row}") from None
        if not (math.isfinite(r_a) and math.isfinite(r_b)) or r_a < 0 or r_b < 0:
            raise ConfigError(f"{path}:{line_no}: rates must be finite and ≥ 0, got {row}")
        if r_a == 0 and r_b == 0:
            raise ConfigError(f"{path}:{line_no}: both rates are 0, which is no operating point")
        points.append((r_a, r_b))
    if not points:
        raise ConfigError(f"{path}: no rows after the header")
    return Frontier((a, b), points)
