"""Bad input: one clear line, non-zero exit, no traceback, no server or stub process left behind."""

import socket
from pathlib import Path

import pytest

from perseus.serving.ports import free_port
from tests.integration.helpers import assert_one_line_error, cli, our_server_processes, tiny_onnx, wait_gone

pytestmark = pytest.mark.integration


def test_unknown_model(perseus_home: Path) -> None:
    result = cli(["serve", "--models", "resnet5O"])
    assert_one_line_error(result, "unknown model", "resnet5O")
    assert our_server_processes(perseus_home) == []


def test_corrupt_onnx_file_is_refused_by_models_add(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf at all" * 10)
    assert_one_line_error(cli(["models", "add", "broken", str(bad)]), "not a valid ONNX model")


def test_model_file_corrupted_after_add_fails_server_start_cleanly(
    tmp_path: Path, perseus_home: Path
) -> None:
    result = cli(["models", "add", "tiny", str(tiny_onnx(tmp_path / "tiny.onnx"))])
    assert result.returncode == 0, result.stderr
    (perseus_home / "models" / "tiny" / "model.onnx").write_bytes(b"garbage")
    result = cli(["serve", "--models", "tiny", "--run-dir", str(perseus_home / "corrupt-run")])
    assert_one_line_error(result, "tritonserver")
    assert wait_gone(perseus_home) == []


def test_port_already_in_use(perseus_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(["serve", "--models", "synthetic-sleep", "--grpc-port", str(port)])
    assert_one_line_error(result, f"port {port}", "already in use")
    assert our_server_processes(perseus_home) == []


def test_server_never_ready(perseus_home: Path) -> None:
    result = cli(["serve", "--models", "synthetic-sleep", "--ready-timeout", "0.3"])
    assert_one_line_error(result, "did not become ready within 0.3 s")
    assert wait_gone(perseus_home) == []


def test_unreachable_url() -> None:
    port = free_port("127.0.0.1")
    result = cli(["bench", "--url", f"127.0.0.1:{port}", "--model", "x", "--duration", "1"], timeout=60)
    assert_one_line_error(result, "cannot reach", f"127.0.0.1:{port}")


def test_bad_cli_argument() -> None:
    result = cli(["bench", "--url", "127.0.0.1:1", "--model", "x", "--concurrency", "0"])
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "concurrency" in result.stderr
