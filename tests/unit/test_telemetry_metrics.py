"""Triton /metrics parsing, on text scraped from the real server and on odd lines; scraping over loopback."""

import http.server
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus.core.errors import EndpointError
from perseus.telemetry import GpuGauges, ModelCounters, TritonMetrics, breakdown, parse, scrape
from perseus.telemetry.triton_metrics import parse_line

FIXTURE = Path(__file__).parent.parent / "fixtures" / "triton_metrics_two_models.txt"


def test_parses_real_scrape_of_two_models() -> None:
    """Captured from tritonserver 2.51 after closed-loop load (c=8) on a batched and an unbatched tenant."""
    metrics = parse(FIXTURE.read_text())
    assert list(metrics.models) == ["synthetic-cpu", "synthetic-sleep"]
    assert metrics.models["synthetic-cpu"] == ModelCounters(
        request_success=15021,
        request_failure=0,
        inference_count=15021,
        exec_count=1896,
        request_duration_us=18063987,
        queue_duration_us=3779474,
        compute_input_duration_us=746094,
        compute_infer_duration_us=7128520,
        compute_output_duration_us=6338621,
        pending_request_count=0,
    )
    sleep = metrics.models["synthetic-sleep"]
    assert (sleep.request_success, sleep.inference_count, sleep.exec_count) == (619, 619, 619)
    assert sleep.queue_duration_us == 23843029
    assert metrics.cpu_utilization == 0.115
    assert (metrics.cpu_memory_used_bytes, metrics.cpu_memory_total_bytes) == (516972544, 25276510208)
    assert metrics.gpus == {} and metrics.unparsed_lines == 0


def test_real_scrape_breakdown_shows_batching_and_adds_up() -> None:
    by_model = breakdown(TritonMetrics(0), parse(FIXTURE.read_text()))
    batched, unbatched = by_model["synthetic-cpu"], by_model["synthetic-sleep"]
    assert batched.avg_batch_size == pytest.approx(15021 / 1896) and batched.avg_batch_size > 7
    assert unbatched.avg_batch_size == 1.0
    for part in (batched, unbatched):
        assert part.request_us is not None and part.queue_us is not None
        assert part.compute_input_us is not None and part.compute_output_us is not None
        assert part.compute_infer_us is not None
        # The request time is queue + compute input/infer/output plus a little Triton bookkeeping.
        parts_us = part.queue_us + part.compute_input_us + part.compute_infer_us + part.compute_output_us
        assert 0.95 * part.request_us <= parts_us <= part.request_us
    # The sleep model's 5 ms sleep is its compute time; c=8 on one instance queues ~7 of them.
    assert unbatched.compute_infer_us == pytest.approx(5436.27, abs=0.01)
    assert unbatched.queue_us is not None and unbatched.queue_us > 6 * 5000


GPU_TEXT = """\
# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)
# TYPE nv_gpu_utilization gauge
nv_gpu_utilization{gpu_uuid="GPU-a1"} 0.5
nv_gpu_utilization{gpu_uuid="GPU-b2"} 0
nv_gpu_memory_used_bytes{gpu_uuid="GPU-a1"} 1048576
nv_gpu_memory_total_bytes{gpu_uuid="GPU-a1"} 16000000000
nv_gpu_power_usage{gpu_uuid="GPU-a1"} 71.5
nv_inference_request_failure{model="m",reason="BACKEND",version="1"} 2
nv_inference_request_failure{model="m",reason="REJECTED",version="1"} 3
nv_inference_request_success{model="m",version="1"} 10
nv_inference_request_success{model="m",version="2"} 5
nv_inference_queue_summary_us{model="m",version="1",quantile="0.5"} 55
nv_inference_queue_summary_us_count{model="m",version="1"} 161
nv_some_future_metric{model="m"} 9
"""


def test_gpu_gauges_by_uuid_failures_over_reasons_and_versions_summed() -> None:
    metrics = parse(GPU_TEXT)
    assert metrics.gpus == {
        "GPU-a1": GpuGauges(0.5, 1048576, 16000000000, 71.5),
        "GPU-b2": GpuGauges(utilization=0.0),
    }
    assert metrics.models["m"].request_failure == 5
    assert metrics.models["m"].request_success == 15
    assert metrics.cpu_utilization is None  # CPU metrics off: unknown, not zero
    assert metrics.unparsed_lines == 0


@pytest.mark.parametrize(
    ("line", "name", "labels", "value"),
    [
        ("nv_cpu_utilization 0.98", "nv_cpu_utilization", {}, 0.98),
        ("  nv_cpu_utilization\t0.98  ", "nv_cpu_utilization", {}, 0.98),
        ("x NaN", "x", {}, math.nan),
        ("x +Inf", "x", {}, math.inf),
        ("x -Inf", "x", {}, -math.inf),
        ("x 1e3 1700000000000", "x", {}, 1000.0),  # with a timestamp
        ('x{a="1",} 2', "x", {"a": "1"}, 2.0),  # trailing comma is allowed
        ('x{ a = "1" , b="2"} 3', "x", {"a": "1", "b": "2"}, 3.0),
        ('x{a="q\\"uote",b="back\\\\slash"} 1', "x", {"a": 'q"uote', "b": "back\\slash"}, 1.0),
        ('x{c="new\\nline",d="odd\\q"} 1', "x", {"c": "new\nline", "d": "odd\\q"}, 1.0),
        ('x{a="has } and , inside"} 4', "x", {"a": "has } and , inside"}, 4.0),
        ("x{} 5", "x", {}, 5.0),
        ("ns:sub_total 6", "ns:sub_total", {}, 6.0),
    ],
)
def test_odd_but_valid_lines(line: str, name: str, labels: dict[str, str], value: float) -> None:
    sample = parse_line(line)
    assert sample is not None
    assert (sample.name, dict(sample.labels)) == (name, labels)
    assert (math.isnan(sample.value) and math.isnan(value)) or sample.value == value


@pytest.mark.parametrize("line", ["", "   ", "# HELP x y", "#TYPE x counter", "# anything {"])
def test_comments_and_blanks_are_not_samples(line: str) -> None:
    assert parse_line(line) is None


@pytest.mark.parametrize(
    "line",
    [
        "x",  # no value
        "x 1 2 3",
        "x one",
        "x 1_000",
        "x 1 notatimestamp",
        "9x 1",
        'x{a="1" 2',  # unclosed labels
        'x{a="1} 2',  # unterminated value
        "x{a=1} 2",  # unquoted value
        'x{="1"} 2',
        'x{a="1"}2',  # value glued to the labels
    ],
)
def test_malformed_lines_are_counted_not_raised(line: str) -> None:
    with pytest.raises(ValueError):
        parse_line(line)
    metrics = parse(f"nv_cpu_utilization 0.5\n{line}\n")
    assert metrics.unparsed_lines == 1 and metrics.cpu_utilization == 0.5


LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]{0,8}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@given(
    labels=st.dictionaries(st.from_regex(LABEL_NAME, fullmatch=True), st.text(), max_size=4),
    value=st.floats(allow_nan=False),
)
def test_label_values_round_trip_through_escaping(labels: dict[str, str], value: float) -> None:
    rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    sample = parse_line(f"metric{{{rendered}}} {value!r}")
    assert sample is not None
    assert dict(sample.labels) == labels and sample.value == value


@given(st.text())
def test_any_text_parses_without_raising(text: str) -> None:
    metrics = parse(text)
    assert metrics.unparsed_lines <= len(text.splitlines())


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""
    delay_s = 0.0

    def do_GET(self) -> None:  # the name http.server calls
        time.sleep(self.delay_s)
        if self.path != "/metrics":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the timeout case hangs up on purpose; the late write's broken pipe is expected


@pytest.fixture
def metrics_server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"body": FIXTURE.read_bytes()})
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()
    thread.join()


def test_scrape_reads_and_stamps(metrics_server: tuple[str, type[_Handler]]) -> None:
    base, _ = metrics_server
    before = time.monotonic_ns()
    metrics = scrape(f"{base}/metrics", timeout_s=5)
    assert before <= metrics.t_ns <= time.monotonic_ns()
    assert metrics.models["synthetic-cpu"].exec_count == 1896


def test_scrape_ignores_proxy_settings(
    metrics_server: tuple[str, type[_Handler]], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = metrics_server
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    assert "synthetic-sleep" in scrape(f"{base}/metrics", timeout_s=5).models


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_scrape_errors_are_one_line(metrics_server: tuple[str, type[_Handler]]) -> None:
    base, handler = metrics_server
    cases = {
        f"http://127.0.0.1:{_free_port()}/metrics": "Connection refused",
        f"{base}/nothing": "404",
        "not a url": "cannot read Triton metrics",
    }
    for url, needle in cases.items():
        with pytest.raises(EndpointError) as info:
            scrape(url, timeout_s=2)
        assert needle in str(info.value) and "\n" not in str(info.value), str(info.value)
    handler.delay_s = 1.0
    with pytest.raises(EndpointError, match="timed out"):
        scrape(f"{base}/metrics", timeout_s=0.2)
