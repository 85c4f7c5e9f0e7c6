"""Shared helpers of the benchmark scripts: an embedded server, perf_analyzer, printing ratios."""

import argparse
import contextlib
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from perseus.config import ServerConfig, TenantConfig
from perseus.serving import RunningServer, embedded_server
from perseus.serving.install import locate_triton


@contextmanager
def server(*tenants: TenantConfig, cpu: int | None = None) -> Iterator[RunningServer]:
    """An embedded server for one benchmark; with `cpu`, tritonserver and its stubs inherit that one CPU
    (the affinity is set only while it starts, so the load tools keep theirs)."""
    before = os.sched_getaffinity(0)
    with contextlib.ExitStack() as stack:
        run_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="perseus-bench-"))
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        try:
            running = stack.enter_context(embedded_server(ServerConfig(tenants=tenants), Path(run_dir)))
        finally:
            os.sched_setaffinity(0, before)
        yield running


def perf_analyzer() -> tuple[str, dict[str, str]]:
    """perf_analyzer 2.51 from the tritonclient wheel, with the two libraries it needs put on its path.

    It wants libb64.so.0d and libcudart.so.12; the nvidia-pytriton wheel carries both under hashed
    names, so a folder of symlinks with the plain names is enough.
    """
    binary = shutil.which("perf_analyzer", path=str(Path(sys.executable).parent))
    if binary is None:
        raise SystemExit(
            "perf_analyzer not found next to this python (pip install tritonclient[all]==2.51.0)"
        )
    libs = Path(locate_triton().env["LD_LIBRARY_PATH"].split(os.pathsep)[1])
    links = Path(tempfile.mkdtemp(prefix="perseus-pa-libs-"))
    for plain, pattern in (("libb64.so.0d", "libb64-*.so.0d"), ("libcudart.so.12", "libcudart-*.so.12*")):
        (links / plain).symlink_to(next(libs.glob(pattern)))
    env = dict(os.environ, LD_LIBRARY_PATH=f"{links}{os.pathsep}{os.environ.get('LD_LIBRARY_PATH', '')}")
    return binary, env


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return done.stdout


def ratio_line(label: str, ours: float, theirs: float, goal: float, ratio: float | None = None) -> str:
    """One comparison; the verdict is on `ratio` when given (e.g. a median of paired ratios), else ours ÷ theirs."""
    if ratio is None:
        ratio = ours / theirs if theirs else float("nan")
    verdict = "ok" if abs(ratio - 1) <= goal else "OUTSIDE GOAL"
    return f"{label:<34} ours {ours:10.2f}   theirs {theirs:10.2f}   ratio {ratio:6.3f}   (goal ±{goal:.0%}: {verdict})"


def pa_closed_loop(
    binary: str,
    env: dict[str, str],
    url: str,
    model: str,
    concurrency: int,
    protocol: str,
    extra: tuple[str, ...] = (),
) -> dict[str, str]:
    """One perf_analyzer measurement at a fixed concurrency; its CSV row (µs latencies, req/s)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pa.csv"
        run(
            [
                binary,
                "-m",
                model,
                "-u",
                url,
                "-i",
                protocol,
                "--concurrency-range",
                f"{concurrency}:{concurrency}",
                "-p",
                "3000",
                *extra,
                "-f",
                str(out),
            ],
            env=env,
        )
        return next(csv.DictReader(io.StringIO(out.read_text())))


def add_client_cpu_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--client-cpu",
        type=int,
        default=None,
        help="pin both load generators to this CPU (the server keeps all CPUs unless --server-cpu)",
    )
    parser.add_argument(
        "--server-cpu",
        type=int,
        default=None,
        help="start tritonserver (and its model stubs) on this CPU only; with --client-cpu on another, "
        "neither tool's own CPU use takes time from the server",
    )


def pin_clients(cpu: int | None) -> None:
    """Pin this process (and the load tools it starts later) to one CPU. Call it after the server
    started, so the server does not inherit the pinning."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
