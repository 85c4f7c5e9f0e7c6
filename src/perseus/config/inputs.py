"""Which input values a measurement sends: the `inputs` setting of an experiment and `bench --input-data`
(`normal`, `zeros`, `random`, `file:PATH`), its syntax and its one-line description. The tensors are
made in perseus.models.inputs."""

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

from perseus.core.errors import ConfigError
from perseus.core.names import did_you_mean

NORMAL = "normal"
FILE_PREFIX = "file:"
# What each kind sends, in the words the reports and --help use.
KINDS: dict[str, str] = {
    NORMAL: "standard normal floats, seeded per sender and model; integers 0-7",
    "zeros": "all zeros",
    "random": "perf_analyzer 2.51's default: the low bytes of glibc rand() from seed 1, one buffer for "
    "every input and batch row; as FP32 any bit pattern, NaN included",
}
CHOICES = f"{', '.join(KINDS)} or {FILE_PREFIX}PATH (.npz keyed by input name, or .npy for one input)"


def input_data_problem(value: str) -> str | None:
    """Why `value` is not an input-data setting, or None when it is one."""
    if value in KINDS:
        return None
    if value.startswith(FILE_PREFIX):
        path = value.removeprefix(FILE_PREFIX)
        if not path.strip():
            return f"{FILE_PREFIX} needs a path, e.g. {FILE_PREFIX}inputs.npz"
        if Path(path).suffix not in (".npz", ".npy"):
            return f"{value!r}: the file must be .npz (a tensor per input name) or .npy (one input)"
        return None
    return f"unknown input data {value!r}{did_you_mean(value, list(KINDS))}; choose {CHOICES}"


def _valid(value: str) -> str:
    problem = input_data_problem(value)
    if problem is not None:
        raise ValueError(problem)  # pydantic names the field
    return value


InputData = Annotated[str, AfterValidator(_valid)]


def parse_input_data(value: str, where: str) -> str:
    """`value` checked; ConfigError naming `where` (a flag or a file's key) when it is not valid."""
    problem = input_data_problem(value)
    if problem is not None:
        raise ConfigError(f"{where}: {problem}")
    return value


def input_file(value: str) -> Path | None:
    """The file of a `file:PATH` setting; None for a generated kind."""
    return Path(value.removeprefix(FILE_PREFIX)) if value.startswith(FILE_PREFIX) else None


def describe_input_data(value: str) -> str:
    """`zeros (all zeros)`: the setting and what it sends, for reports and provenance."""
    path = input_file(value)
    if path is not None:
        return f"{value} (the tensors of that file)"
    return f"{value} ({KINDS.get(value, 'unknown')})"
