"""Nothing of a server outlives its perseus, even a perseus killed with SIGKILL: each server runs under
a record in $PERSEUS_HOME/servers and a watchdog process that removes it the moment perseus dies
(serving/watchdog.py); and each perseus start sweeps away what owners that died left behind.

Why a watchdog: tritonserver dies with perseus (PR_SET_PDEATHSIG, serving/procs.py), but its
python-backend stubs are its children, not ours: orphaned to PID 1, they ignore SIGTERM and keep their
model and /dev/shm region. Only a process that outlives perseus can remove them.
"""

import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from perseus.core.errors import ServerError
from perseus.core.files import atomic_write_text
from perseus.core.paths import servers_dir
from perseus.serving import watchdog
from perseus.serving.watchdog import Proc, Record, Removed, boot_id, hostname, identify, read, remove, running

_numbers = itertools.count(1)  # a record per server this process starts


def _me(pid: int) -> Proc:
    proc = identify(pid)
    if proc is None:  # only if /proc is not mounted, or the process is already gone
        raise ServerError(f"cannot read /proc/{pid}/stat: is /proc mounted?")
    return proc


class Guard:
    """The record of one server, rewritten (atomically: the watchdog may read it at any moment) as
    more of the server becomes known."""

    def __init__(self, path: Path, record: Record) -> None:
        self.path, self.record = path, record
        self.write()

    def write(self) -> None:
        atomic_write_text(self.path, self.record.to_json())

    def watch(self, server_pid: int) -> None:
        """The server was started: its pid is also its session, which its stubs will belong to."""
        self.record.server = _me(server_pid)
        self.write()

    def update(self, stub_pids: Sequence[int], shm: Sequence[str]) -> None:
        self.record.stubs = [p for p in map(identify, stub_pids) if p is not None]
        self.record.shm = sorted(set(shm))
        self.write()


@contextmanager
def guarded(binaries: Sequence[Path], log_path: Path) -> Iterator[Guard]:
    """A record and a watchdog for one server, before it starts (call `watch` once it has).

    On leaving the block: whatever of the recorded server is still alive is killed (a clean stop left
    nothing; this is the last net), then the watchdog is disarmed and the record deleted. The watchdog
    runs in its own session, so Ctrl-C or a closed terminal reaches perseus but not the watchdog.
    """
    path = servers_dir() / f"{os.getpid()}-{next(_numbers)}.json"
    record = Record(
        owner=_me(os.getpid()), host=hostname(), boot=boot_id(), binaries=[str(b) for b in binaries]
    )
    guard = Guard(path, record)  # written before the watchdog starts: it reads the record when it fires
    try:
        dog = _watchdog([str(path), str(os.getpid())], log_path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    try:
        record.watchdog = identify(dog.pid)
        guard.write()
        yield guard
    finally:
        try:
            remove(record, None)
        finally:
            dog.kill()  # it ignores every other signal; it holds nothing that needs a clean exit
            dog.wait()
            path.unlink(missing_ok=True)


def _watchdog(args: Sequence[str], log_path: Path) -> "subprocess.Popen[bytes]":
    """The watchdog script, in its own session: Ctrl-C or a closed terminal reaches perseus, not it."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-I", "-S", watchdog.__file__, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd="/",
        )


@contextmanager
def tree_guarded(marker: str, log_path: Path) -> Iterator[None]:
    """Every process whose command line holds `marker` (a local Ray cluster's session folder), with its
    descendants, is killed if this perseus dies inside the block, even by SIGKILL. Leaving the block
    kills what is left of them (what they run was stopped in order before; this is the last net) and
    disarms the watchdog."""
    dog = _watchdog(["--tree", marker, str(os.getpid())], log_path)
    # Read the tree every second here too: once Ray's head processes stop, a worker killed on Ctrl-C
    # leaves children that no longer hang under anything with the marker.
    known: set[watchdog.Proc] = set()
    stop = threading.Event()

    def look() -> None:
        while not stop.wait(1.0):
            known.update(watchdog.tree(marker))

    looker = threading.Thread(target=look, daemon=True, name="perseus-tree-look")
    known.update(watchdog.tree(marker))
    looker.start()
    try:
        yield
    finally:
        stop.set()
        looker.join()
        try:
            watchdog.remove_tree(marker, known)
        finally:
            dog.kill()
            dog.wait()


def sweep() -> str | None:
    """Remove what the servers of dead perseus processes left (processes and /dev/shm regions their
    records name, checked against /proc), and say what in one line; None when there was nothing.

    A record of a live owner is left alone (two perseus may run at once), and so is one written on
    another host sharing $PERSEUS_HOME. Records of an earlier boot name nothing that can still exist.
    """
    here, boot = hostname(), boot_id()
    owners: list[int] = []
    removed = Removed()
    for path in sorted(servers_dir().glob("*.json")):
        record = read(path)
        if record is None or record.host != here or (record.boot == boot and running(record.owner)):
            continue
        if record.boot != boot:
            path.unlink(missing_ok=True)
            continue
        found = remove(record, path)
        if found:
            owners.append(record.owner.pid)
            removed.killed += found.killed
            removed.shm += found.shm
    if not owners:
        return None
    return f"removed what dead perseus {', '.join(map(str, owners))} left: {watchdog.describe(removed)}"
