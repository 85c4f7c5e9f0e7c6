"""The input tensors a measurement sends to a model, for each input-data setting (config.inputs):
standard normal, zeros, perf_analyzer 2.51's default random bytes, or the tensors of a user's file.

A server's work may depend on the values (a model with data-dependent operators, a CPU that slows on
subnormal floats), so they are a setting of every measurement and recorded with it. On this host
onnxruntime ran SqueezeNet 1.1 as fast on perf_analyzer's random bytes as on normal floats
(docs/results.md, "Input data")."""

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from perseus.config.inputs import NORMAL, describe_input_data, input_file
from perseus.core.errors import ConfigError, ModelError
from perseus.core.names import did_you_mean
from perseus.models.spec import ModelInfo

Array = npt.NDArray[Any]
_RAND_DISCARD = 310  # glibc's srandom discards the first 10 × 31 outputs of its generator
_NPY_KEY = ""  # a .npy file's one tensor, before it is matched to the model's one input


@dataclass(frozen=True)
class InputTensor:
    """One model input: its name, its shape as declared (-1 a dynamic dim; a dynamic first dim is the
    batch) and its numpy dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    @property
    def batched(self) -> bool:
        return bool(self.shape) and self.shape[0] < 0

    @property
    def sample(self) -> tuple[int, ...]:
        """The shape of one batch row (the whole tensor when there is no batch dim); other dynamic dims 1."""
        return tuple(d if d >= 0 else 1 for d in (self.shape[1:] if self.batched else self.shape))

    def shape_at(self, batch: int) -> tuple[int, ...]:
        return (batch, *self.sample) if self.batched else self.sample


def tensors_of(info: ModelInfo) -> list[InputTensor]:
    """A resolved model's inputs, in its order."""
    tensors = []
    for spec in info.inputs:
        try:
            dtype = np.dtype(spec.dtype)
        except TypeError as exc:
            raise ModelError(f"input {spec.name!r} has dtype {spec.dtype!r}, which numpy lacks") from exc
        tensors.append(InputTensor(spec.name, spec.shape, dtype))
    return tensors


@functools.lru_cache(maxsize=8)
def glibc_rand_bytes(count: int) -> bytes:
    """The first `count` values of glibc's rand() from seed 1 (what it gives when nothing seeded it), each
    cut to its low byte: perf_analyzer 2.51's random input buffer (src/data_loader.cc, GenerateData:
    `for (auto& byte : input_buf_) byte = rand();`, a std::vector<uint8_t>, and perf_analyzer never
    calls srand). glibc's generator (random_r.c, TYPE_3): r[0] = seed, r[i] = 16807 r[i-1] mod 2^31-1
    for i < 31, r[31..33] = r[0..2], then r[i] = r[i-3] + r[i-31] mod 2^32; rand() number k is
    r[k + 344] >> 1."""
    r = [1]
    for _ in range(30):
        r.append(16807 * r[-1] % 2147483647)
    r += r[:3]
    first = 34 + _RAND_DISCARD
    append = r.append
    for i in range(34, first + count):
        append((r[i - 3] + r[i - 31]) & 0xFFFFFFFF)
    values = np.array(r[first:], dtype=np.uint32)
    return ((values >> 1) & 0xFF).astype(np.uint8).tobytes()


def _normal(tensor: InputTensor, batch: int, rng: np.random.Generator) -> Array:
    shape = tensor.shape_at(batch)
    if tensor.dtype.kind == "f":
        return rng.standard_normal(shape).astype(tensor.dtype)
    if tensor.dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(tensor.dtype)
    if tensor.dtype.kind in "iu":
        # Small non-negative values: valid as indices or token ids for most models.
        return rng.integers(0, 8, shape).astype(tensor.dtype)
    raise ModelError(f"cannot generate input {tensor.name!r} of dtype {tensor.dtype}")


def _random(tensors: Sequence[InputTensor], batch: int) -> dict[str, Array]:
    """As perf_analyzer: one buffer as long as the largest batch row; every input takes its first bytes,
    and every row of a batch is the same."""
    for tensor in tensors:
        if tensor.dtype.kind not in "fiub":
            raise ModelError(f"cannot generate input {tensor.name!r} of dtype {tensor.dtype}")
    rows = {t.name: int(np.prod(t.sample)) * t.dtype.itemsize for t in tensors}
    buffer = glibc_rand_bytes(max(rows.values(), default=0))
    arrays = {}
    for tensor in tensors:
        row = np.frombuffer(buffer[: rows[tensor.name]], dtype=np.uint8)
        if tensor.dtype.kind == "b":
            row = row & np.uint8(1)  # a bool byte must be 0 or 1; perf_analyzer would send the byte as it is
        one = row.view(tensor.dtype).reshape(tensor.sample)
        arrays[tensor.name] = np.ascontiguousarray(np.broadcast_to(one, tensor.shape_at(batch)))
    return arrays


@functools.lru_cache(maxsize=4)
def _read(path: Path, stamp: tuple[int, int]) -> dict[str, Array]:
    del stamp  # part of the cache key only: a file rewritten in place is read again
    try:
        with path.open("rb") as handle:
            if path.suffix == ".npz":
                with np.load(handle, allow_pickle=False) as archive:
                    return {name: archive[name] for name in archive.files}
            return {_NPY_KEY: np.load(handle, allow_pickle=False)}
    except OSError as exc:
        raise ConfigError(f"input data file {path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:  # not a numpy file, or one holding Python objects
        raise ConfigError(f"input data file {path}: not a numpy {path.suffix} file ({exc})") from None


def read_input_file(path: Path) -> dict[str, Array]:
    """The tensors of a .npz (by name) or .npy file; ConfigError naming the file when it cannot be read."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(f"input data file {path}: cannot read it ({exc.strerror or exc})") from None
    return _read(path.resolve(), (stat.st_mtime_ns, stat.st_size))


def input_provenance(data: str) -> dict[str, Any]:
    """What a run records of its input values: the setting, what it sends, and for a file its absolute
    path, SHA-256 and tensors (the file may change or go after the run)."""
    facts: dict[str, Any] = {"data": data, "values": describe_input_data(data)}
    path = input_file(data)
    if path is not None:
        tensors = read_input_file(path)
        facts |= {
            "path": str(path.resolve()),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "tensors": {name or "(.npy)": f"{a.dtype}{list(a.shape)}" for name, a in tensors.items()},
        }
    return facts


def _from_file(path: Path, tensors: Sequence[InputTensor], batch: int) -> dict[str, Array]:
    found = dict(read_input_file(path))
    where = f"input data file {path}"
    names = [t.name for t in tensors]
    if _NPY_KEY in found:
        if len(tensors) != 1:
            raise ConfigError(
                f"{where}: a .npy file holds one tensor, the model takes {len(tensors)} inputs "
                f"({', '.join(names)}): give an .npz with one array per input name"
            )
        found = {names[0]: found.pop(_NPY_KEY)}
    for name in found:
        if name not in names:
            raise ConfigError(
                f"{where}: {name!r} is not an input{did_you_mean(name, names)}; "
                f"the model's inputs: {', '.join(names)}"
            )
    arrays = {}
    for tensor in tensors:
        if tensor.name not in found:
            raise ConfigError(f"{where}: no array for input {tensor.name!r} (it has {', '.join(found)})")
        arrays[tensor.name] = _fitted(found[tensor.name], tensor, batch, where)
    return arrays


def _fits(shape: tuple[int, ...], declared: tuple[int, ...]) -> bool:
    return len(shape) == len(declared) and all(d < 0 or d == s for s, d in zip(shape, declared, strict=True))


def _fitted(array: Array, tensor: InputTensor, batch: int, where: str) -> Array:
    """The array as one request of `batch` sends it: a batch row repeated, or the first `batch` rows."""
    if array.dtype != tensor.dtype:
        raise ConfigError(
            f"{where}: input {tensor.name!r} is {array.dtype} there, the model takes {tensor.dtype} "
            f"(save it with .astype('{tensor.dtype}'))"
        )
    declared = tensor.shape[1:] if tensor.batched else tensor.shape
    expected = f"[N, {', '.join(map(str, declared))}] or one row {list(declared)}" if tensor.batched else ""
    if not tensor.batched:
        if not _fits(array.shape, declared):
            raise ConfigError(
                f"{where}: input {tensor.name!r} has shape {list(array.shape)}, the model takes "
                f"{list(tensor.shape)} (-1: any size)"
            )
        return np.ascontiguousarray(array)
    if _fits(array.shape, declared):
        return np.ascontiguousarray(np.broadcast_to(array, (batch, *array.shape)))
    if not _fits(array.shape[1:], declared) or array.ndim != len(tensor.shape):
        raise ConfigError(
            f"{where}: input {tensor.name!r} has shape {list(array.shape)}, the model takes {expected} "
            "(-1: any size)"
        )
    if array.shape[0] < batch:
        raise ConfigError(
            f"{where}: input {tensor.name!r} has {array.shape[0]} rows, a request of batch {batch} needs "
            f"{batch} (or give one row, sent in every batch row)"
        )
    return np.ascontiguousarray(array[:batch])


def make_inputs(
    data: str, tensors: Sequence[InputTensor], batch: int, rng: np.random.Generator | None = None
) -> dict[str, Array]:
    """One request's input arrays for the setting `data`, by input name; `rng` draws `normal` values."""
    if batch < 1:
        raise ModelError(f"batch must be at least 1, got {batch}")
    path = input_file(data)
    if path is not None:
        return _from_file(path, tensors, batch)
    if data == "zeros":
        return {t.name: np.zeros(t.shape_at(batch), dtype=t.dtype) for t in tensors}
    if data == "random":
        return _random(tensors, batch)
    if data != NORMAL:
        raise ConfigError(f"unknown input data {data!r}")
    rng = rng if rng is not None else np.random.default_rng(0)
    return {t.name: _normal(t, batch, rng) for t in tensors}


def load_onnx_input(info: ModelInfo, batch: int, seed: int, data: str = NORMAL) -> dict[str, Array]:
    """One request's inputs for a resolved model; a dynamic first dim becomes `batch`, other dynamic
    dims become 1 (or the file's own sizes)."""
    return make_inputs(data, tensors_of(info), batch, np.random.default_rng(seed))
