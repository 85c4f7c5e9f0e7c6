"""The on-disk model cache: `<models_dir>/<name>/model.onnx` plus its `model.json` sidecar."""

from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from perseus.core.files import atomic_write_text, replacing
from perseus.core.paths import models_dir
from perseus.models.spec import ModelInfo

ONNX_FILE = "model.onnx"
SIDECAR_FILE = "model.json"


def entry_dir(cache_name: str) -> Path:
    return models_dir() / cache_name


def read_sidecar(cache_name: str) -> ModelInfo | None:
    """What the sidecar says, whether or not its .onnx is still there; None if it is absent or unreadable."""
    sidecar = entry_dir(cache_name) / SIDECAR_FILE
    try:
        return ModelInfo.model_validate_json(sidecar.read_text())
    except (OSError, ValidationError):
        return None


def read_cached(cache_name: str) -> ModelInfo | None:
    """The cached ModelInfo if both files are there and the sidecar parses; else None (export again)."""
    onnx_path = entry_dir(cache_name) / ONNX_FILE
    info = read_sidecar(cache_name) if onnx_path.is_file() else None
    if info is None or info.kind != "onnx":
        return None
    # The sidecar holds an absolute path; if PERSEUS_HOME was moved, point at where the file is now.
    return info.model_copy(update={"path": str(onnx_path.resolve())})


def cached_names() -> list[str]:
    """Every directory in the cache that holds a valid entry."""
    root = models_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and read_cached(p.name) is not None)


def store(
    cache_name: str, write: Callable[[Path], object], describe: Callable[[Path], ModelInfo]
) -> ModelInfo:
    """Write the .onnx via `write(temp_path)`, rename it into place, then write the sidecar.

    The sidecar is removed first and written last, so a crash at any point leaves either no entry or a
    complete one: a sidecar only ever sits next to the finished file it describes.
    """
    directory = entry_dir(cache_name)
    directory.mkdir(parents=True, exist_ok=True)
    final, sidecar = directory / ONNX_FILE, directory / SIDECAR_FILE
    sidecar.unlink(missing_ok=True)
    with replacing(final) as temp:
        write(temp)
        info = describe(temp)
    info = info.model_copy(update={"path": str(final.resolve())})
    atomic_write_text(sidecar, info.model_dump_json(indent=2) + "\n")
    return info
