"""Child-process hygiene: own process group, die with the parent, reap everything, clean /dev/shm."""

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

from perseus.serving.watchdog import SHM_DIR

_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec
        os.setsid()
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl: no signal will come for it
            os._exit(1)

    return preexec


def spawn(argv: Sequence[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start argv in its own session (Ctrl-C on our terminal does not hit it; we stop it in order),
    killed by the kernel if we die without cleaning up."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with(os.getpid()),
        )


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _alive(procs: Sequence[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if _running(p)]


def stop(
    proc: subprocess.Popen[bytes],
    known_children: Sequence[psutil.Process],
    grace_s: float,
    drained: Callable[[], bool] = lambda: False,
) -> None:
    """SIGTERM the server and wait for its clean exit, or only until drained() says nothing is left
    to answer; then SIGKILL its group and any child left."""
    children = list({p.pid: p for p in [*known_children, *descendants(proc.pid)]}.values())
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while proc.poll() is None and time.monotonic() < deadline and not drained():
            time.sleep(0.02)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _wait_dead(children, grace_s)
    for child in _alive(children):
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    _wait_dead(children, grace_s)


def _wait_dead(procs: Sequence[psutil.Process], timeout_s: float) -> None:
    """Until each is gone or a zombie. Not psutil.wait_procs: the stubs are the server's children, and
    once it died their zombies wait for whoever is PID 1 to reap them, which can take seconds."""
    deadline = time.monotonic() + timeout_s
    while _alive(procs) and time.monotonic() < deadline:
        time.sleep(0.01)


def shm_regions(procs: Sequence[psutil.Process]) -> list[str]:
    """The /dev/shm region names our python-backend stubs were told to use (from their argv)."""
    names: list[str] = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            names += [arg.lstrip("/") for arg in proc.cmdline() if "triton_python_backend_shm_region" in arg]
    return names


def remove_shm(names: Sequence[str]) -> None:
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            (SHM_DIR / name).unlink()
