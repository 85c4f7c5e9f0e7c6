"""Repository rendering, tenant naming, ports and process hygiene without a server."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from perseus.config import TenantConfig
from perseus.config.serving import tenant_names
from perseus.core.errors import ServerError
from perseus.models import ModelInfo, TensorSpec
from perseus.serving import procs
from perseus.serving.ports import ensure_free, pick_ports
from perseus.serving.repository import Tenant, render_config, write_repository


def _info(batch_dynamic: bool = True) -> ModelInfo:
    first = -1 if batch_dynamic else 1
    return ModelInfo(
        name="m",
        base="m",
        kind="onnx",
        path="/x/model.onnx",
        inputs=(TensorSpec(name="input", shape=(first, 3, 8, 8), dtype="float32"),),
        outputs=(TensorSpec(name="output", shape=(first, 10), dtype="float32"),),
        batch_dynamic=batch_dynamic,
        params=1,
        flops=None,
        source="test",
        weights="random",
        options={},
    )


def test_render_config_batched() -> None:
    text = render_config(Tenant("m", TenantConfig(model="m", instances=3, intra_op_threads=2), _info()))
    assert 'backend: "python"' in text and "max_batch_size: 8" in text
    assert "dims: [ 3, 8, 8 ]" in text and "dims: [ 10 ]" in text
    assert "count: 3" in text and 'string_value: "/x/model.onnx"' in text
    assert 'key: "intra_op_threads" value { string_value: "2" }' in text


def test_render_config_static_batch_keeps_full_dims() -> None:
    text = render_config(Tenant("m", TenantConfig(model="m"), _info(batch_dynamic=False)))
    assert "max_batch_size: 0" in text and "dims: [ 1, 3, 8, 8 ]" in text


def test_write_repository_layout(tmp_path: Path) -> None:
    root = write_repository(tmp_path / "repo", [Tenant("m", TenantConfig(model="m"), _info())])
    assert (root / "m" / "config.pbtxt").is_file()
    assert "class TritonPythonModel" in (root / "m" / "1" / "model.py").read_text()


def test_tenant_names_make_copies_unique() -> None:
    assert tenant_names(["resnet50", "resnet50", "synthetic-sleep:service_ms=5", "resnet50"]) == [
        "resnet50",
        "resnet50-2",
        "synthetic-sleep",
        "resnet50-3",
    ]


@pytest.mark.parametrize("reuse", [False, True])
def test_taken_port_is_refused(reuse: bool) -> None:
    """A live listener refuses the port, also one bound with SO_REUSEADDR as tritonserver binds."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, int(reuse))
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ServerError, match=f"grpc port {port} on 127.0.0.1 is already in use"):
            pick_ports("127.0.0.1", {"http": None, "grpc": port, "metrics": None})
    ensure_free("127.0.0.1", port, "grpc")


def test_port_left_in_time_wait_is_free() -> None:
    """A server stopped a moment ago leaves only TIME_WAIT sockets on its port (~60 s): tritonserver binds
    it again (SO_REUSEADDR), so perseus serve on the same ports must not refuse it."""
    with socket.socket() as listener:
        # As tritonserver's: the sockets it accepts inherit SO_REUSEADDR, and Linux lets a new bind
        # share the port with a TIME_WAIT socket only when both ask for it.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            conn, _ = listener.accept()
            conn.close()  # the server's side closes first: it is the one left in TIME_WAIT, on `port`
            client.recv(1)  # the FIN arrived; our close then completes the handshake
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # a bind without SO_REUSEADDR still sees the port as taken
    ensure_free("127.0.0.1", port, "metrics")
    assert pick_ports("127.0.0.1", {"http": None, "grpc": None, "metrics": port})["metrics"] == port


def test_picked_ports_differ() -> None:
    ports = pick_ports("127.0.0.1", {"http": None, "grpc": None, "metrics": None})
    assert len(set(ports.values())) == 3


def test_stop_reaps_child_and_grandchild(tmp_path: Path) -> None:
    script = "import subprocess,time; subprocess.Popen(['sleep','300']); time.sleep(300)"
    proc = procs.spawn([sys.executable, "-c", script], {"PATH": "/usr/bin:/bin"}, tmp_path / "log")
    deadline = time.monotonic() + 10
    while not procs.descendants(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    [grandchild] = procs.descendants(proc.pid)
    procs.stop(proc, [grandchild], grace_s=2)
    assert proc.poll() is not None
    assert not psutil.pid_exists(grandchild.pid) or grandchild.status() == psutil.STATUS_ZOMBIE


def test_spawned_child_dies_with_its_parent(tmp_path: Path) -> None:
    """Even if perseus is SIGKILLed (no cleanup at all), the server it spawned does not outlive it."""
    pid_file = tmp_path / "child.pid"
    parent_code = (
        "import sys; from pathlib import Path; from perseus.serving import procs;"
        f"p = procs.spawn(['sleep', '300'], {{'PATH': '/usr/bin:/bin'}}, Path({str(tmp_path / 'log')!r}));"
        f"Path({str(pid_file)!r}).write_text(str(p.pid)); import time; time.sleep(300)"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    deadline = time.monotonic() + 20
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = psutil.Process(int(pid_file.read_text()))
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    child.wait(timeout=10)
    assert not child.is_running()
