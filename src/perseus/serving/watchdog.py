"""What outlives a dead perseus and removes its server: the record of a server (which processes and
/dev/shm regions are ours), process identity read from /proc, the removal a record allows, and the
watchdog process that does it the moment its perseus dies.

Standard library only, with no perseus import: the watchdog runs this file as a script
(`python -I -S watchdog.py RECORD OWNER_PID`), so it starts in milliseconds and holds a few MB, not a
second perseus. perseus writes the records (serving/orphans.py) and sweeps those of dead owners with
`remove` below.
"""

import contextlib
import json
import os
import re
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SHM_DIR = Path("/dev/shm")
# Only names of this shape are ever unlinked, whatever a record says.
SHM_NAME = re.compile(r"^triton_python_backend_shm_region_[A-Za-z0-9_-]+$")
_KILL_WAIT_S = 3.0
_SCRIPT = "/serving/watchdog.py"


@dataclass(frozen=True)
class Proc:
    """A process as the kernel knows it: its pid and when it started (clock ticks since boot), so a pid
    the kernel gave to someone else since is never taken for ours."""

    pid: int
    start: int


@dataclass
class Record:
    """One server of one perseus: the owner, tritonserver (the leader of its own session, so the stubs
    it forks are members of that session), the binaries a member of ours runs, and what is known of its
    stubs and their /dev/shm regions."""

    owner: Proc
    host: str
    boot: str
    binaries: list[str]
    watchdog: Proc | None = None
    server: Proc | None = None
    stubs: list[Proc] = field(default_factory=list)
    shm: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @staticmethod
    def from_json(text: str) -> "Record":
        data: dict[str, Any] = json.loads(text)
        server, dog = data.get("server"), data.get("watchdog")
        return Record(
            owner=_proc(data["owner"]),
            host=str(data["host"]),
            boot=str(data["boot"]),
            binaries=[str(b) for b in data["binaries"]],
            watchdog=None if dog is None else _proc(dog),
            server=None if server is None else _proc(server),
            stubs=[_proc(s) for s in data.get("stubs", [])],
            shm=[str(s) for s in data.get("shm", [])],
        )


def _proc(data: dict[str, Any]) -> Proc:
    return Proc(int(data["pid"]), int(data["start"]))


@dataclass
class Removed:
    """What a removal found alive and killed, and which /dev/shm regions it unlinked."""

    killed: list[tuple[int, str]] = field(default_factory=list)  # (pid, program name)
    shm: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.killed or self.shm)


def boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def hostname() -> str:
    return socket.gethostname()


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on; the name before it may hold spaces and parentheses."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def identify(pid: int) -> Proc | None:
    stat = _stat(pid)
    return None if stat is None else Proc(pid, int(stat[19]))


def running(proc: Proc) -> bool:
    """The same process (same start), and not a zombie: a zombie has let go of everything it held."""
    stat = _stat(proc.pid)
    return stat is not None and int(stat[19]) == proc.start and stat[0] not in ("Z", "X")


def _exe(pid: int) -> str | None:
    try:
        # A binary replaced while it runs reads as "PATH (deleted)": still the program we started.
        return os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return None


def _name(pid: int) -> str:
    """The program's file name; a process already exiting has no exe link left, only its comm."""
    exe = _exe(pid)
    if exe is not None:
        return Path(exe).name
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() or "?"
    except OSError:
        return "?"


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace").split("\0")
    except OSError:
        return []


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def members(record: Record) -> list[Proc]:
    """The live processes a record makes ours: tritonserver and the stubs it names, and any process of
    the server's session that started no earlier than the server and runs one of its binaries (a stub
    started after the record was last written, or tritonserver forking one).

    The session is read only while its id is still the server's: the kernel does not hand out a pid
    that still names a session, so if another process has that pid now, the session of ours is empty.
    """
    ours = {p for p in [record.server, *record.stubs] if p is not None and running(p)}
    server = record.server
    leader = None if server is None else identify(server.pid)
    if server is not None and (leader is None or leader == server):
        binaries = {os.path.realpath(b) for b in record.binaries}
        for pid in _pids():
            stat = _stat(pid)
            if stat is None or int(stat[3]) != server.pid or stat[0] in ("Z", "X"):
                continue
            if int(stat[19]) >= server.start and _exe(pid) in binaries:
                ours.add(Proc(pid, int(stat[19])))
    return sorted(ours, key=lambda p: p.pid)


def _shm_named(procs: Iterable[Proc]) -> list[str]:
    """The /dev/shm regions the stubs were told to use: each stub's argv names its own."""
    return [arg.lstrip("/") for p in procs for arg in _cmdline(p.pid) if "triton_python_backend_shm" in arg]


def _kill(procs: Sequence[Proc]) -> None:
    """SIGKILL each (checked just before that the pid is still the process we mean), then wait until
    each is gone or a zombie."""
    for proc in procs:
        if running(proc):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + _KILL_WAIT_S
    while any(running(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.01)


def remove(record: Record, path: Path | None) -> Removed:
    """SIGKILL every live process of the record, unlink its /dev/shm regions, then delete the record.

    The server is killed first so it forks no more stubs, and the session is read again until nothing
    of it is left, for a stub forked meanwhile.
    """
    killed: dict[int, str] = {}
    regions = list(record.shm)
    for _ in range(5):
        alive = members(record)
        if not alive:
            break
        regions += _shm_named(alive)
        killed |= {p.pid: _name(p.pid) for p in alive}
        _kill(sorted(alive, key=lambda p: p != record.server))
    removed = Removed(killed=sorted(killed.items()))
    for name in sorted(set(regions)):
        if not SHM_NAME.match(name):
            continue
        try:
            (SHM_DIR / name).unlink()
            removed.shm.append(name)
        except FileNotFoundError:
            pass
    if path is not None:
        path.unlink(missing_ok=True)
    return removed


def read(path: Path) -> Record | None:
    """The record at path, or None if it is gone (its owner finished) or unreadable."""
    try:
        return Record.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def describe(removed: Removed) -> str:
    by_name: dict[str, list[int]] = {}
    for pid, name in removed.killed:
        by_name.setdefault(name, []).append(pid)
    parts = [f"{name} {', '.join(map(str, pids))}" for name, pids in sorted(by_name.items())]
    if removed.shm:
        parts.append(f"{len(removed.shm)} /dev/shm region{'s' if len(removed.shm) > 1 else ''}")
    return "; ".join(parts) or "nothing"


def _log(text: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} watchdog {os.getpid()}: {text}", flush=True)


def _await_death(owner: int, every: Callable[[], None] = lambda: None) -> None:
    """Return once the owner has died, calling `every` about once a second until then.

    A pidfd wakes us when the owner exits, however it dies (SIGKILL, the OOM killer, a closed
    terminal). Our parent is the owner: if it is no longer our parent once the pidfd is open, it
    died before we could watch it. perseus disarms us with SIGKILL once it has stopped what we guard.
    """
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)  # only the owner's death, or its SIGKILL, ends us
    try:
        pidfd = os.pidfd_open(owner)
    except ProcessLookupError:  # gone already
        pidfd = -1
    except OSError:  # a kernel before 5.3 has no pidfd: notice being reparented instead
        while os.getppid() == owner:
            every()
            time.sleep(1.0)
        pidfd = -1
    if pidfd >= 0 and os.getppid() == owner:
        poll = select.poll()
        poll.register(pidfd, select.POLLIN)
        every()
        while not poll.poll(1000):
            every()


def watch(record_path: Path, owner: int) -> None:
    """Wait for the owner's death, then remove what its record names."""
    _await_death(owner)
    record = read(record_path)
    if record is None:
        _log(f"perseus {owner} died; no server was recorded at {record_path}")
        return
    removed = remove(record, record_path)
    _log(f"perseus {owner} died; removed {describe(removed)}")


def tree(marker: str) -> list[Proc]:
    """Every live process whose command line holds `marker` (a Ray session's folder), and all their
    descendants (Ray's workers, a server a worker started, that server's stubs), but no watchdog: a
    server's own watchdog is left to remove that server's record and regions when its owner dies."""
    children: dict[int, list[int]] = {}
    marked = []
    for pid in _pids():
        stat = _stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            continue
        argv = _cmdline(pid)
        if any(arg.endswith(_SCRIPT) for arg in argv):  # a server's own watchdog: it removes that server
            continue
        children.setdefault(int(stat[1]), []).append(pid)
        if any(marker in arg for arg in argv):
            marked.append(pid)
    found: set[int] = set()
    while marked:
        pid = marked.pop()
        if pid not in found:
            found.add(pid)
            marked.extend(children.get(pid, []))
    return [p for p in map(identify, sorted(found)) if p is not None]


def remove_tree(marker: str, known: Iterable[Proc] = ()) -> Removed:
    """SIGKILL what `tree` finds (read again until nothing is left) and the `known` members still
    running, and unlink the stubs' regions."""
    killed: dict[int, str] = {}
    regions: list[str] = []
    for _ in range(5):
        alive = sorted({p for p in known if running(p)} | set(tree(marker)), key=lambda p: p.pid)
        if not alive:
            break
        regions += _shm_named(alive)
        killed |= {p.pid: _name(p.pid) for p in alive}
        _kill(alive)
    removed = Removed(killed=sorted(killed.items()))
    for name in sorted(set(regions)):
        if SHM_NAME.match(name):
            with contextlib.suppress(FileNotFoundError):
                (SHM_DIR / name).unlink()
                removed.shm.append(name)
    return removed


def watch_tree(marker: str, owner: int) -> None:
    """Wait for the owner's death, then remove every process of `marker` (a local Ray cluster). The tree
    is read every second meanwhile: when the driver dies, Ray's head processes go at once, and the
    workers under them would no longer be found through them."""
    known: set[Proc] = set()
    _await_death(owner, lambda: known.update(tree(marker)))
    _log(f"perseus {owner} died; removed {describe(remove_tree(marker, known))}")


if __name__ == "__main__":
    if sys.argv[1] == "--tree":
        watch_tree(sys.argv[2], int(sys.argv[3]))
    else:
        watch(Path(sys.argv[1]), int(sys.argv[2]))
