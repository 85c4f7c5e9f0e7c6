"""perseus killed with SIGKILL on the real server (the OOM killer, a closed terminal): within 5 s nothing
of its server remains, and the run resumes; and what a dead perseus left when its watchdog died with it
is removed by the next perseus start, which says so, while a live perseus's server is left alone.

Orphaned stubs outlive perseus for as long as the dead tritonserver is not reaped: a stub checks every
300 ms only whether its parent's pid still exists (pb_stub.cc, "Non-graceful termination detected"), and
a zombie's does. On this host PID 1 reaps within ~2 s and an idle stub then exits by itself; behind an
init that reaps late (many containers), or with a stub stuck mid-request as the issue measured, it stays.
The tests make that case certain: this process adopts the orphans and reaps none until the test ends.
"""

import contextlib
import ctypes
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from perseus.core.paths import servers_dir
from perseus.serving.watchdog import Proc, running
from perseus.store import Store
from tests.integration.helpers import cli, dead, our_server_processes, shm_regions

pytestmark = pytest.mark.integration

_PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture(autouse=True)
def orphans_stay() -> Iterator[None]:
    """Orphans of our descendants are reparented to this process, which does not reap them meanwhile;
    at the end the adoptees' zombies are reaped (the perseus processes were waited for already)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    assert libc.prctl(_PR_SET_CHILD_SUBREAPER, 1) == 0
    try:
        yield
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0)
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error, ChildProcessError):
                if child.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(child.pid, 0)


EXPERIMENT: dict[str, Any] = {
    "name": "crash",
    "kind": "peak",
    "models": ["synthetic-sleep:service_ms=5"],
    "sla": "p95=50ms",
    # Short trials on a noisy 2-core host (as in test_experiments.py), enough of them to kill one midway.
    "trial": {"warmup_s": 0.2, "min_duration_s": 1, "max_duration_s": 1.5, "tolerance": 0.5},
    "search": {"tolerance": 0.1, "max_probes": 4},
    "telemetry_interval_s": 0.5,
}


@contextmanager
def perseus(args: list[str], out: Path) -> Iterator[subprocess.Popen[bytes]]:
    """perseus ARGS in the background, output to a file; killed and reaped at the end of the block."""
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "perseus", *args], stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _until(what: Callable[[], Any], timeout: float, why: Callable[[], object], every: float = 0.05) -> Any:
    """what() once it is truthy; fails after timeout seconds with why() (read then, not before)."""
    deadline = time.monotonic() + timeout
    while not (found := what()):
        assert time.monotonic() < deadline, why()
        time.sleep(every)
    return found


def _trials(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM trials").fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


def _record_of(owner: int) -> dict[str, Any] | None:
    """The record of owner's server once it names its stubs (the server is ready)."""
    for path in servers_dir().glob(f"{owner}-*.json"):
        record: dict[str, Any] = json.loads(path.read_text())
        if record["stubs"]:
            return record
    return None


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if not dead(p.pid) and p.is_running()]


def test_sigkilled_run_leaves_nothing_and_resumes(tmp_path: Path, perseus_home: Path) -> None:
    file, db = tmp_path / "crash.yaml", tmp_path / "results.db"
    file.write_text(yaml.safe_dump(EXPERIMENT))
    args = ["run", str(file), "--db", str(db), "--no-report"]
    with perseus(args, tmp_path / "first.log") as first:
        log = lambda: (tmp_path / "first.log").read_text(errors="replace")[-2000:]  # noqa: E731
        _until(lambda: _trials(db) >= 1 and first.poll() is None, 120, log)
        record = _until(lambda: _record_of(first.pid), 30, lambda: "no server recorded")
        server = _until(lambda: our_server_processes(perseus_home), 10, lambda: "no server running")
        regions = set(record["shm"])
        assert len(server) >= 2 and regions and regions <= shm_regions()  # tritonserver, a stub, its region
        kept = _trials(db)
        first.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        _until(
            lambda: not _alive(server) and not regions & shm_regions(), 5, lambda: f"left: {_alive(server)}"
        )
        took = time.monotonic() - killed
        assert not list(servers_dir().glob(f"{first.pid}-*.json"))  # the watchdog deleted the record
    print(f"nothing of the server left {took:.2f} s after SIGKILL")
    assert our_server_processes(perseus_home) == []
    again = cli(args, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    resumed = re.search(r"resuming run 1: (\d+) finished trials are kept", again.stdout)
    assert resumed is not None and int(resumed[1]) >= kept, again.stdout
    assert "removed what dead perseus" not in again.stderr  # the watchdog had already removed it all
    with Store(db) as store:
        (run,) = store.runs()
        assert run.status == "done" and len(store.trials(run.id)) > kept
    assert our_server_processes(perseus_home) == []


def test_start_removes_what_a_dead_perseus_left(tmp_path: Path, perseus_home: Path) -> None:
    """The watchdog SIGKILLed too: the stubs are orphaned as before this fix, and the next start removes
    them; the server of a perseus still running is not touched."""
    serve = ["serve", "--models", "synthetic-sleep:service_ms=5", "--instances", "2"]
    with (
        perseus(serve, tmp_path / "live.log") as live,
        perseus(serve, tmp_path / "victim.log") as victim,
    ):
        kept = _until(lambda: _record_of(live.pid), 120, (tmp_path / "live.log").read_text)
        record = _until(lambda: _record_of(victim.pid), 120, (tmp_path / "victim.log").read_text)
        watchdog = Proc(**record["watchdog"])
        stubs = [psutil.Process(s["pid"]) for s in record["stubs"]]
        regions = set(record["shm"])
        os.kill(watchdog.pid, signal.SIGKILL)
        _until(lambda: not running(watchdog), 5, lambda: "the watchdog lives")
        victim.send_signal(signal.SIGKILL)
        _until(lambda: dead(record["server"]["pid"]), 5, lambda: "tritonserver outlived perseus")
        time.sleep(1)
        # What the issue measured: the stubs outlive perseus and tritonserver (unreaped: see the top of
        # this file), with their regions, and nothing else will remove them.
        assert len(_alive(stubs)) == 2 and regions <= shm_regions()
        listed = cli(["runs", "list", "--db", str(tmp_path / "results.db")])
        assert listed.returncode == 0, listed.stderr
        pids = ", ".join(str(s.pid) for s in sorted(stubs, key=lambda s: s.pid))
        said = [line for line in listed.stderr.splitlines() if "removed what dead perseus" in line]
        assert said == [
            f"· removed what dead perseus {victim.pid} left: triton_python_backend_stub {pids}; "
            "2 /dev/shm regions"
        ], listed.stderr
        assert not _alive(stubs) and not regions & shm_regions()
        assert not list(servers_dir().glob(f"{victim.pid}-*.json"))
        # The live perseus: its server, stubs, regions and record are as they were.
        assert live.poll() is None and running(Proc(**kept["server"]))
        assert all(running(Proc(**s)) for s in kept["stubs"]) and set(kept["shm"]) <= shm_regions()
        assert list(servers_dir().glob(f"{live.pid}-*.json"))
        quiet = cli(["runs", "list", "--db", str(tmp_path / "results.db")])
        assert "removed" not in quiet.stderr, quiet.stderr
        live.send_signal(signal.SIGINT)
        assert live.wait(timeout=30) == 0, (tmp_path / "live.log").read_text()
    assert our_server_processes(perseus_home) == []
    assert not set(kept["shm"]) & shm_regions()


def _stubs_starting(owner: int) -> tuple[dict[str, Any], list[psutil.Process]] | None:
    """owner's record once its server has stubs that the record does not name yet (a window of
    ~0.15-0.3 s here: polled every 10 ms, and cheaply, through the server's children only)."""
    for path in servers_dir().glob(f"{owner}-*.json"):
        record: dict[str, Any] = json.loads(path.read_text())
        assert not record["stubs"], "the server was ready before a starting stub was seen"
        if record["server"] is None:
            return None
        with contextlib.suppress(psutil.Error):
            forked = psutil.Process(record["server"]["pid"]).children()
            stubs = [p for p in forked if p.name() == "triton_python_backend_stub"]
            if stubs:
                return record, stubs
    return None


def test_sigkilled_while_the_server_starts(tmp_path: Path, perseus_home: Path) -> None:
    """Killed once tritonserver has forked its stubs but before it is ready, so before perseus recorded
    them: the watchdog finds them in the server's session, and their regions in their argv."""
    serve = ["serve", "--models", "synthetic-sleep:service_ms=5", "--instances", "2"]
    with perseus(serve, tmp_path / "serve.log") as starting:
        found = _until(lambda: _stubs_starting(starting.pid), 120, lambda: "no stub seen", every=0.01)
        record, stubs = found
        server = psutil.Process(record["server"]["pid"])
        regions = {a.lstrip("/") for s in stubs for a in s.cmdline() if "triton_python_backend_shm" in a}
        starting.send_signal(signal.SIGKILL)
        left = lambda: _alive([server, *stubs]) or regions & shm_regions()  # noqa: E731
        _until(lambda: not left(), 5, lambda: f"left: {left()}")
        assert regions and not list(servers_dir().glob(f"{starting.pid}-*.json"))
    assert our_server_processes(perseus_home) == []
