"""Locate the tritonserver binary inside the nvidia-pytriton wheel and prepare its backend folder and env."""

import importlib.util
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from perseus.core.errors import ServerError
from perseus.core.files import replacing
from perseus.core.paths import perseus_home

TRITON_VERSION = "2.51.0"  # the binary carried by nvidia-pytriton==0.7.0
_PY = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class TritonInstall:
    binary: Path
    backend_dir: Path  # holds python/ with libtriton_python.so and the stub for this interpreter
    env: dict[str, str]

    @property
    def stub(self) -> Path:
        """The python-backend stub tritonserver starts for each model instance."""
        return self.backend_dir / "python" / "triton_python_backend_stub"


def _pytriton_root() -> Path:
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("nvidia-pytriton==0.7.0 is not installed; it carries the tritonserver binary")
    return Path(next(iter(spec.submodule_search_locations)))


def _copy_if_changed(src: Path, dst: Path) -> None:
    if (
        dst.exists()
        and dst.stat().st_size == src.stat().st_size
        and dst.stat().st_mtime >= src.stat().st_mtime
    ):
        return
    # Replaced, not overwritten in place: a running server may have the old file mapped.
    with replacing(dst) as tmp:
        shutil.copy2(src, tmp)


def locate_triton() -> TritonInstall:
    """Find the binary, and build a backend folder of our own holding the python backend and its stub.

    The wheel ships the stub separately per Python version; tritonserver looks for it next to
    libtriton_python.so, so we assemble both in $PERSEUS_HOME instead of writing into site-packages.
    """
    root = _pytriton_root() / "tritonserver"
    binary = root / "bin" / "tritonserver"
    stub = root / "python_backend_stubs" / _PY / "triton_python_backend_stub"
    libs = root.parent.parent / "nvidia_pytriton.libs"
    for needed in (binary, stub, root / "backends" / "python" / "libtriton_python.so", libs):
        if not needed.exists():
            raise ServerError(f"incomplete nvidia-pytriton install: {needed} is missing")
    backend_dir = perseus_home() / "triton" / f"backends-py{_PY}"
    python_dir = backend_dir / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
        _copy_if_changed(root / "backends" / "python" / name, python_dir / name)
    _copy_if_changed(stub, python_dir / "triton_python_backend_stub")
    return TritonInstall(binary=binary, backend_dir=backend_dir, env=server_env(libs))


# glibc malloc tuning for tritonserver. By default each request's input (602 KB for a 224×224 image) lands
# in freshly faulted pages: glibc hands freed memory of a thread's arena back to the kernel, and the
# gRPC front end's next receive faults and zeroes it again. Keeping freed memory (trim threshold) and
# serving blocks up to 32 MiB from the heap instead of mmap cut tritonserver's CPU per request by
# ~0.1 ms for MobileNetV2 here (~3% of throughput when the client shares the host). What is kept is
# bounded by the peak in use.
_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),  # glibc's maximum on 64-bit
    "MALLOC_TRIM_THRESHOLD_": str(256 << 20),
    "MALLOC_TOP_PAD_": str(16 << 20),
}


def server_env(libs: Path) -> dict[str, str]:
    """Environment for tritonserver; its python stubs inherit it.

    The stub imports packages from the first python3 on PATH, so our interpreter's bin goes first.
    Without the wheel's libs dir the stub cannot load libcudart and the server hangs instead of failing.
    """
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    libdir = str(sysconfig.get_config_var("LIBDIR") or "")
    parts = [p for p in (libdir, str(libs), env.get("LD_LIBRARY_PATH", "")) if p]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(parts)
    for name, value in _MALLOC.items():
        env.setdefault(name, value)  # a user's own malloc tuning wins
    return env
