"""What a stored run must carry to be traceable: host, software versions, git sha, command, the input values
it sent."""

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from perseus import __version__
from perseus.config.inputs import NORMAL
from perseus.models.inputs import input_provenance
from perseus.serving import TRITON_VERSION
from perseus.telemetry.host import HostCheck

_PACKAGES = ("onnxruntime", "numpy", "tritonclient", "nvidia-pytriton", "onnx", "torch", "pytorchcv")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _cpu_model() -> str:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git_sha() -> str | None:
    source = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out + ("-dirty" if dirty else "")


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {
        "perseus": __version__,
        "python": platform.python_version(),
        "tritonserver": TRITON_VERSION,
    }
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def host_facts() -> dict[str, Any]:
    return {
        "hostname": platform.node(),
        "cpu_model": _cpu_model(),
        "logical_cpus": psutil.cpu_count(logical=True),
        "physical_cpus": psutil.cpu_count(logical=False),
        "cpus_allowed": sorted(os.sched_getaffinity(0)),
        "memory_bytes": psutil.virtual_memory().total,
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "kernel": platform.release(),
        "os": platform.platform(),
    }


def provenance(host_check: HostCheck | None = None, inputs: str = NORMAL) -> dict[str, Any]:
    return {
        "host": host_facts(),
        "host_check": host_check.as_dict() if host_check is not None else None,
        "versions": versions(),
        "git_sha": _git_sha(),
        "command": sys.argv,
        "weights": "random (pretrained weights are not downloadable here; dense CNN cost does not "
        "depend on weight values)",
        "inputs": input_provenance(inputs),
    }
