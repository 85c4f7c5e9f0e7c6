"""Serving knobs: cpuset syntax, tenant validation, the CLI flag parsers and config.pbtxt rendering."""

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from perseus.cli.knobs import server_from_file, with_knobs
from perseus.config import TenantConfig
from perseus.config.knobs import Knobs, parse_pins, tenants_from_flags
from perseus.config.serving import format_cpuset, parse_cpuset
from perseus.core.errors import ConfigError, ModelError
from perseus.serving import pinning
from perseus.serving.repository import Tenant, render_config
from tests.unit.test_serving_units import _info


@pytest.mark.parametrize(
    ("text", "cpus"), [("0", (0,)), ("0-3,6", (0, 1, 2, 3, 6)), (" 2 , 0-1 ", (0, 1, 2)), ("5-5", (5,))]
)
def test_parse_cpuset(text: str, cpus: tuple[int, ...]) -> None:
    assert parse_cpuset(text) == cpus


@pytest.mark.parametrize("text", ["", "a", "3-1", "-1", "1-", ","])
def test_parse_cpuset_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cpuset(text)


@given(st.sets(st.integers(0, 200), min_size=1))
def test_cpuset_round_trips(cpus: set[int]) -> None:
    assert parse_cpuset(format_cpuset(sorted(cpus))) == tuple(sorted(cpus))


def test_tenant_config_knobs() -> None:
    tenant = TenantConfig(model="m", cpus="0-1")  # type: ignore[arg-type]  # the YAML/CLI form
    assert tenant.cpus == (0, 1) and tenant.effective_intra_op_threads() == 2
    assert TenantConfig(model="m", cpus=(0, 1), intra_op_threads=1).effective_intra_op_threads() == 1
    assert TenantConfig(model="m").effective_intra_op_threads() == 0
    with pytest.raises(ValidationError, match="needs dynamic_batching"):
        TenantConfig(model="m", preferred_batch_sizes=(4,))
    with pytest.raises(ValidationError, match=r"1\.\.max_batch_size"):
        TenantConfig(model="m", dynamic_batching=True, preferred_batch_sizes=(16,), max_batch_size=8)
    with pytest.raises(ValidationError):
        TenantConfig(model="m", cpus=())


def test_render_dynamic_batching_and_threads() -> None:
    config = TenantConfig(
        model="m",
        dynamic_batching=True,
        max_queue_delay_us=10_000,
        preferred_batch_sizes=(4, 8),
        inter_op_threads=2,
        cpus=(1,),
    )
    text = render_config(Tenant("m", config, _info()))
    assert "dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 10000 }" in text
    assert 'key: "intra_op_threads" value { string_value: "1" }' in text  # pinned to one core
    assert 'key: "inter_op_threads" value { string_value: "2" }' in text
    assert "dynamic_batching" not in render_config(Tenant("m", TenantConfig(model="m"), _info()))
    assert 'string_value: "model.onnx"' in render_config(Tenant("m", config, _info()), onnx_path="model.onnx")


def test_dynamic_batching_needs_a_batch_dimension() -> None:
    with pytest.raises(ModelError, match="dynamic batch dimension"):
        render_config(Tenant("m", TenantConfig(model="m", dynamic_batching=True), _info(batch_dynamic=False)))


def test_parse_pins() -> None:
    assert parse_pins(["a=0", "b=1-2"], ["a", "b"]) == {"a": (0,), "b": (1, 2)}
    for bad, needle in (("a", "MODEL=CPUS"), ("c=0", "not one of"), ("a=x", "not a CPU")):
        with pytest.raises(ConfigError, match=needle):
            parse_pins([bad], ["a", "b"])


def test_tenants_from_flags() -> None:
    tenants = tenants_from_flags(
        ["a", "b"], ["b=1"], instances=2, dynamic_batching=True, preferred_batch_sizes="4,8"
    )
    assert [t.cpus for t in tenants] == [None, (1,)]
    assert all(t.instances == 2 and t.preferred_batch_sizes == (4, 8) for t in tenants)
    with pytest.raises(ConfigError, match="--models a: instances"):
        tenants_from_flags(["a"], None, instances=0)


def test_knobs_make_tenants() -> None:
    knobs = Knobs(instances=2, dynamic_batching=True, preferred_batch_sizes="4", pins=("b=0",))
    a, b = knobs.tenants(["a", "b"])
    assert (a.instances, a.preferred_batch_sizes, a.cpus, b.cpus) == (2, (4,), None, (0,))
    assert Knobs().tenants(["a"]) == (TenantConfig(model="a"),)


def _run(command: Callable[..., None], *args: str) -> str:
    app = typer.Typer()
    app.command()(command)
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})  # help text unwrapped
    assert result.exit_code == 0, result.output
    return result.output


def test_with_knobs_declares_the_flags_and_passes_one_value() -> None:
    seen: list[tuple[str, Knobs, int]] = []

    @with_knobs()
    def command(name: str = "x", knobs: Knobs = Knobs(), last: int = 0) -> None:
        """Doc kept."""
        seen.append((name, knobs, last))

    _run(command, "--name", "y", "--instances", "3", "--dynamic-batching", "--pin", "a=0", "--pin", "b=1")
    _run(command, "--last", "5")
    assert seen == [
        ("y", Knobs(instances=3, dynamic_batching=True, pins=("a=0", "b=1")), 0),
        ("x", Knobs(), 5),
    ]
    assert command.__doc__ == "Doc kept."
    help_text = _run(command, "--help")
    flags = ["--name", "--instances", "--max-batch-size", "--preferred-batch-sizes", "--pin", "--last"]
    assert [help_text.index(flag) for flag in flags] == sorted(help_text.index(flag) for flag in flags)
    assert "Triton instances (stub processes) per model" in help_text


def test_with_knobs_without_pin() -> None:
    @with_knobs(pin=False)
    def command(knobs: Knobs = Knobs()) -> None:
        assert knobs == Knobs(max_batch_size=4)

    _run(command, "--max-batch-size", "4")
    assert "--pin" not in _run(command, "--help")
    with pytest.raises(TypeError, match="no `knobs` parameter"):
        with_knobs()(lambda: None)


def test_server_from_file(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text("tenants:\n  - model: a\n    cpus: '0'\n  - {model: b, instances: 2}\n")
    config = server_from_file(path, grpc_port=9001, host=None)
    assert config.grpc_port == 9001 and config.tenants[0].cpus == (0,) and config.tenants[1].instances == 2
    path.write_text("tenants:\n  - model: a\n    cpu: 0\n")
    with pytest.raises(ConfigError, match=r"serve.yaml: tenants.0.cpu: Extra inputs"):
        server_from_file(path)
    path.write_text("tenants: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        server_from_file(path)
    with pytest.raises(ConfigError, match="cannot read"):
        server_from_file(tmp_path / "missing.yaml")


def test_tenant_of_stub_argv() -> None:
    argv = ["/x/triton_python_backend_stub", "/runs/r/model_repository/resnet50-2/1/model.py", "shm"]
    assert pinning.tenant_of(argv) == "resnet50-2"
    assert pinning.tenant_of(["/usr/bin/python3", "/a/b/1/model.py"]) is None


def test_pin_moves_every_thread_and_the_pinner_keeps_new_threads_pinned() -> None:
    """On this very process: a thread started after pinning is pinned by the next sweep."""
    pid, original = os.getpid(), os.sched_getaffinity(0)
    target = (min(original),)
    release = threading.Event()
    try:
        with pinning.Pinner(lambda: {"me": [pid]}, {"me": target}) as pinner:
            assert {pinning.cpus_allowed(pid, tid) for tid in pinning.thread_ids(pid)} == {target}
            os.sched_setaffinity(0, original)  # as if a new thread appeared unpinned
            late = threading.Thread(target=release.wait)
            late.start()
            pinner.sweep()
            assert {pinning.cpus_allowed(pid, tid) for tid in pinning.thread_ids(pid)} == {target}
    finally:
        release.set()
        for tid in pinning.thread_ids(pid):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, original)


def test_check_cpus_refuses_unusable_cpus() -> None:
    pinning.check_cpus({"a": tuple(os.sched_getaffinity(0))})
    with pytest.raises(ConfigError, match="not available here"):
        pinning.check_cpus({"a": (4096,)})
