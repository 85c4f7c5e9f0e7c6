"""What a dead perseus leaves, without a server: a stand-in "server" (`sleep` leading its own session,
with a `sleep` child as its "stub") under a record; the watchdog removes it when its owner is SIGKILLed,
the start-up sweep removes it when the owner is dead, and neither touches a live owner's or a process
whose pid was given to someone else."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from perseus.core.paths import servers_dir
from perseus.serving import orphans
from perseus.serving.watchdog import SHM_DIR, Proc, Record, boot_id, hostname, identify, read, running

SLEEP = os.path.realpath(shutil.which("sleep") or "/bin/sleep")


@dataclass
class FakeServer:
    leader: subprocess.Popen[bytes]
    server: Proc
    stub: Proc
    shm: Path

    def gone(self) -> bool:
        return not running(self.server) and not running(self.stub)


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """`sleep` leading its own session with a `sleep` child, and a /dev/shm region named like a stub's;
    all of it removed after the test whatever the test did."""
    shm = SHM_DIR / f"triton_python_backend_shm_region_test-{uuid.uuid4().hex}"
    shm.write_bytes(b"\0" * 16)
    leader = subprocess.Popen(["sh", "-c", f"{SLEEP} 300 & exec {SLEEP} 300"], start_new_session=True)
    try:
        deadline = time.monotonic() + 10  # until sh has forked the child and exec'd sleep itself
        while time.monotonic() < deadline and not (
            psutil.Process(leader.pid).children() and os.readlink(f"/proc/{leader.pid}/exe") == SLEEP
        ):
            time.sleep(0.01)
        (child,) = psutil.Process(leader.pid).children()
        server, stub = identify(leader.pid), identify(child.pid)
        assert server is not None and stub is not None
        yield FakeServer(leader, server, stub, shm)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGKILL)
        leader.wait()
        shm.unlink(missing_ok=True)


def _dead_owner() -> Proc:
    proc = subprocess.Popen([SLEEP, "300"])
    me = identify(proc.pid)
    proc.kill()
    proc.wait()
    assert me is not None
    return me


def _record(owner: Proc, fake: FakeServer, **changes: object) -> Path:
    record = Record(
        owner=owner,
        host=hostname(),
        boot=boot_id(),
        binaries=[SLEEP],
        server=fake.server,
        stubs=[fake.stub],
        shm=[fake.shm.name],
    )
    for name, value in changes.items():
        setattr(record, name, value)
    path = servers_dir() / f"{owner.pid}-{uuid.uuid4().hex}.json"
    path.write_text(record.to_json())
    return path


def test_sweep_removes_what_a_dead_owner_left(fake_server: FakeServer) -> None:
    owner = _dead_owner()
    path = _record(owner, fake_server, stubs=[])  # the stub is found as a member of the session
    said = orphans.sweep()
    assert said is not None
    assert f"removed what dead perseus {owner.pid} left" in said
    pids = ", ".join(map(str, sorted([fake_server.server.pid, fake_server.stub.pid])))
    assert f"sleep {pids}" in said and "1 /dev/shm region" in said
    assert fake_server.gone() and not fake_server.shm.exists() and not path.exists()
    assert orphans.sweep() is None  # nothing left to say


def test_sweep_leaves_a_live_owner_alone(fake_server: FakeServer) -> None:
    me = identify(os.getpid())
    assert me is not None
    path = _record(me, fake_server)
    try:
        assert orphans.sweep() is None
        assert running(fake_server.server) and running(fake_server.stub) and fake_server.shm.exists()
        assert read(path) is not None
    finally:
        path.unlink()


def test_sweep_spares_pids_that_are_no_longer_ours(fake_server: FakeServer) -> None:
    """Recorded with other start times: the pids were ours once, and the kernel has reused them."""
    server, stub = fake_server.server, fake_server.stub
    path = _record(_dead_owner(), fake_server, server=Proc(server.pid, server.start - 1), stubs=[])
    other = _record(_dead_owner(), fake_server, server=None, stubs=[Proc(stub.pid, stub.start - 1)], shm=[])
    said = orphans.sweep()
    assert said is not None and "sleep" not in said and "1 /dev/shm region" in said  # only the region
    assert running(server) and running(stub)
    assert not path.exists() and not other.exists()


def test_sweep_spares_a_session_member_running_another_binary(fake_server: FakeServer) -> None:
    owner = _dead_owner()
    _record(owner, fake_server, binaries=["/usr/bin/true"], stubs=[], shm=[])
    said = orphans.sweep()
    assert said == f"removed what dead perseus {owner.pid} left: sleep {fake_server.server.pid}"
    assert running(fake_server.stub)  # in the session, but not a program of ours


def _guarded_child(fake: FakeServer, tmp_path: Path) -> str:
    """A perseus stand-in: the fake server under a guard, then asleep until it is killed."""
    return (
        "import time; from pathlib import Path; from perseus.serving import orphans\n"
        f"with orphans.guarded([{SLEEP!r}], Path({str(tmp_path / 'watchdog.log')!r})) as guard:\n"
        f"    guard.watch({fake.server.pid}); guard.update([{fake.stub.pid}], [{fake.shm.name!r}])\n"
        f"    Path({str(tmp_path / 'ready')!r}).write_text(str(guard.path)); time.sleep(300)\n"
    )


def test_watchdog_removes_the_server_when_its_owner_is_sigkilled(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    owner = subprocess.Popen([sys.executable, "-c", _guarded_child(fake_server, tmp_path)])
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready").exists() and owner.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        record_path = Path((tmp_path / "ready").read_text())
        record = read(record_path)
        assert record is not None and record.watchdog is not None and running(record.watchdog)
        os.kill(owner.pid, signal.SIGKILL)
        killed = time.monotonic()
        while not fake_server.gone() and time.monotonic() < killed + 5:
            time.sleep(0.01)
        assert fake_server.gone(), (tmp_path / "watchdog.log").read_text()
        while record_path.exists() and time.monotonic() < killed + 5:
            time.sleep(0.01)
        assert not record_path.exists() and not fake_server.shm.exists()
        said = f"perseus {owner.pid} died; removed sleep {fake_server.server.pid}, {fake_server.stub.pid}"
        log = tmp_path / "watchdog.log"
        while said not in log.read_text() and time.monotonic() < killed + 5:  # it logs after the removal
            time.sleep(0.01)
        assert said in log.read_text()
    finally:
        owner.kill()
        owner.wait()


def test_a_clean_exit_disarms_the_watchdog(fake_server: FakeServer, tmp_path: Path) -> None:
    with orphans.guarded([Path(SLEEP)], tmp_path / "watchdog.log") as guard:
        guard.watch(fake_server.server.pid)
        record = read(guard.path)
        assert record is not None and record.watchdog is not None and running(record.watchdog)
    # The block's last net killed what was left of the server; the watchdog and the record are gone.
    assert fake_server.gone() and not running(record.watchdog) and not guard.path.exists()
    assert (tmp_path / "watchdog.log").read_text() == ""
