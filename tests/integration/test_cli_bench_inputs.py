"""The input values are part of a measurement, on the real embedded Triton: what `--input-data` names is
what the server receives (an identity model echoes it), and what the run stores and reports."""

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perseus.config import ServerConfig, TenantConfig
from perseus.loadgen.clients import HttpClient, input_tensors, open_client
from perseus.models.inputs import make_inputs
from perseus.serving import embedded_server
from perseus.store import Store
from tests.integration.helpers import assert_one_line_error, cli

pytestmark = pytest.mark.integration

ECHO = "synthetic-sleep:service_ms=1"  # an identity after 1 ms: its output is the input it received
SHORT = ["--duration", "2", "--warmup", "0.5", "--telemetry-interval", "0.5", "--allow-invalid"]


def _echoed(body: bytes) -> np.ndarray[Any, Any]:
    """The one FP32 output of a KServe-v2 HTTP answer with binary outputs (JSON header, then the bytes)."""
    header, _ = json.JSONDecoder().raw_decode(body.decode("latin-1"))  # latin-1: offsets stay bytes
    (output,) = header["outputs"]
    raw = body[len(body) - output["parameters"]["binary_data_size"] :]
    return np.frombuffer(raw, dtype=np.float32).reshape(output["shape"])


async def _sent_and_received(url: str, tenant: str, data: str, batch: int) -> tuple[Any, Any]:
    client = await open_client(
        url, "http", {(tenant, batch)}, timeout_s=10, seed=0, max_connections=1, inputs=data
    )
    assert isinstance(client, HttpClient)
    try:
        # The request perseus built for the load, sent once over the real wire; the model echoes it.
        body = await client._pool.request(client._requests[(tenant, batch)], 10)
        meta = json.loads(await client._get(f"/v2/models/{tenant}"))
    finally:
        await client.close()
    expected = make_inputs(
        data, input_tensors(meta), batch, np.random.default_rng([0, batch, *tenant.encode()])
    )
    return expected["input"], _echoed(body)


def test_the_server_receives_the_values_perseus_sends(tmp_path: Path, perseus_home: Path) -> None:
    rows = tmp_path / "rows.npz"
    np.savez(rows, input=np.array([[1.5], [-2.0], [7.25], [0.0]], dtype=np.float32))
    with embedded_server(ServerConfig(tenants=(TenantConfig(model=ECHO),)), tmp_path / "run") as server:
        url, tenant = server.endpoints.http_url, server.tenants[0].name
        for data in ("zeros", "random", f"file:{rows}", "normal"):
            sent, received = asyncio.run(_sent_and_received(url, tenant, data, 3))
            assert received.shape == (3, 1) and received.tobytes() == sent.tobytes(), data
            if data == "zeros":
                assert not received.any()
            elif data.startswith("file:"):
                assert received.ravel().tolist() == [1.5, -2.0, 7.25]
            elif data == "random":  # perf_analyzer's first 4 bytes (glibc rand() from seed 1), every row
                assert received.tobytes() == bytes.fromhex("67c66973") * 3


def test_a_bench_with_zeros_stores_and_reports_them(perseus_home: Path) -> None:
    done = cli(["bench", "--backend", "embedded", "--model", ECHO, "--input-data", "zeros", "--json", *SHORT])
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["inputs"] == "zeros" and data["errors"] == 0
    with Store(perseus_home / "results.db") as store:
        run, [trial] = store.run(data["run_id"]), store.trials(data["run_id"])
    assert run.spec["inputs"] == "zeros" and trial.spec["inputs"] == "zeros"
    assert run.provenance["inputs"] == {"data": "zeros", "values": "zeros (all zeros)"}
    report = cli(["report", str(data["run_id"])])
    assert report.returncode == 0 and "inputs: zeros (all zeros)" in report.stdout


def test_a_file_of_inputs_is_checked_against_the_served_model(tmp_path: Path, perseus_home: Path) -> None:
    good, bad = tmp_path / "good.npy", tmp_path / "bad.npz"
    np.save(good, np.array([0.5], dtype=np.float32))  # one batch row of synthetic-sleep's [-1, 1] input
    np.savez(bad, input=np.zeros((1, 1), dtype=np.float64))
    wide = {**os.environ, "COLUMNS": "400"}  # the printed path stays on one line
    bench = ["bench", "--backend", "embedded", "--model", ECHO, *SHORT, "--input-data"]
    done = cli([*bench, f"file:{good}"], env=wide)
    assert done.returncode == 0, done.stderr
    assert f"inputs: file:{good} (the tensors of that file)" in done.stdout
    refused = cli([*bench, f"file:{bad}"])
    assert_one_line_error(
        refused, f"input data file {bad}: input 'input' is float64 there, the model takes float32"
    )
    assert refused.returncode == 2
