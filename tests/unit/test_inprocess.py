"""The in-process reference backend without processes: wire frames, batch forming, request checks."""

import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus.config.serving import TenantConfig
from perseus.core import wire
from perseus.core.errors import ConfigError, EndpointError
from perseus.loadgen.inprocess_client import InprocessClient
from perseus.models import ModelInfo, TensorSpec
from perseus.serving.inprocess_worker import BatchPolicy, BatchQueue, Job, batch_problem, fill

request_ids = st.integers(0, wire.MAX_REQUEST_ID)


def _feed(frames: bytes, cuts: list[int], take: object) -> list[object]:
    """Deliver frames in pieces cut at the given offsets, as a stream socket may."""
    assert callable(take)
    buffer, got, start = bytearray(), [], 0
    for end in [*sorted(c % (len(frames) + 1) for c in cuts), len(frames)]:
        buffer += frames[start : max(start, end)]
        start = max(start, end)
        got += take(buffer)
    assert buffer == b""
    return got


@given(st.lists(st.tuples(request_ids, st.integers(0, wire.MAX_BATCH))), st.lists(st.integers(0, 10_000)))
def test_requests_round_trip_however_the_stream_is_cut(pairs: list[tuple[int, int]], cuts: list[int]) -> None:
    frames = b"".join(wire.pack_request(i, b) for i, b in pairs)
    assert len(frames) == wire.REQUEST.size * len(pairs)
    assert _feed(frames, cuts, wire.take_requests) == [wire.Request(i, b) for i, b in pairs]


@given(
    st.lists(st.tuples(request_ids, st.sampled_from(sorted(wire.STATUS_NAMES)), st.text(max_size=50))),
    st.lists(st.integers(0, 10_000)),
)
def test_responses_round_trip_however_the_stream_is_cut(
    triples: list[tuple[int, int, str]], cuts: list[int]
) -> None:
    frames = b"".join(wire.pack_response(*t) for t in triples)
    assert _feed(frames, cuts, wire.take_responses) == [wire.Response(*t) for t in triples]


@given(st.text(min_size=1, max_size=8))
def test_an_overlong_error_is_cut_at_a_character_boundary(unit: str) -> None:
    text = unit * (wire.MAX_ERROR_BYTES // len(unit.encode()) + 2)
    [response] = wire.take_responses(bytearray(wire.pack_response(7, wire.INTERNAL, text)))
    assert wire.MAX_ERROR_BYTES - 4 < len(response.error.encode()) <= wire.MAX_ERROR_BYTES  # ≤ 1 char lost
    assert text.startswith(response.error)


def test_a_socket_path_beyond_the_unix_limit_still_works(tmp_path: Path) -> None:
    folder = tmp_path / ("d" * 60) / ("e" * 60)
    folder.mkdir(parents=True)
    path = folder / "tenant.sock"
    assert len(str(path)) > 108
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        with wire.unix_path(path) as address:
            server.bind(address)
        server.listen()
        with wire.unix_path(path) as address:
            client.connect(address)
        assert path.exists()


def _job(batch: int, request_id: int = 0) -> Job:
    return Job(conn=None, request_id=request_id, batch=batch)  # type: ignore[arg-type]  # never answered


def _queue(
    policy: BatchPolicy, batches: list[int], clock: Callable[[], int] = time.monotonic_ns
) -> BatchQueue:
    queue = BatchQueue(policy, clock)
    for index, batch in enumerate(batches):
        queue.put(_job(batch, index))
    return queue


def _sizes(batch: list[Job]) -> list[int]:
    return [job.batch for job in batch]


@given(st.lists(st.integers(1, 8)), st.integers(0, 8), st.integers(1, 16))
def test_fill_takes_the_longest_prefix_that_fits(batches: list[int], size: int, max_batch: int) -> None:
    queued = deque(_job(b) for b in batches)
    taken, new_size = fill(queued, size, max_batch)
    assert _sizes(taken) == batches[: len(taken)]
    assert new_size == size + sum(_sizes(taken))
    assert new_size <= max(max_batch, size)
    assert not queued or new_size + queued[0].batch > max_batch


def test_without_dynamic_batching_each_request_runs_alone_in_order() -> None:
    queue = _queue(BatchPolicy(dynamic=False, max_batch=8), [1, 2, 1])
    assert [_sizes(queue.next_batch()) for _ in range(3)] == [[1], [2], [1]]


def test_with_no_delay_whatever_is_queued_runs_together() -> None:
    queue = _queue(BatchPolicy(dynamic=True, max_batch=8), [1, 1, 3])
    assert _sizes(queue.next_batch()) == [1, 1, 3]


def test_a_request_that_would_overflow_the_batch_waits_for_the_next() -> None:
    queue = _queue(BatchPolicy(dynamic=True, max_batch=4, delay_ns=3600 * 10**9), [3, 2, 2])
    assert [_sizes(queue.next_batch()) for _ in range(2)] == [[3], [2, 2]]  # full: no wait for the delay


def test_the_queue_delay_is_measured_on_the_clock() -> None:
    ticks = iter([0, 2_000_000])  # the second reading is already past the 1 ms delay
    queue = _queue(BatchPolicy(dynamic=True, max_batch=8, delay_ns=1_000_000), [1], lambda: next(ticks))
    assert _sizes(queue.next_batch()) == [1]


def test_a_preferred_size_runs_without_waiting_out_the_delay() -> None:
    policy = BatchPolicy(dynamic=True, max_batch=8, delay_ns=3600 * 10**9, preferred=(2,))
    assert _sizes(_queue(policy, [1, 1]).next_batch()) == [1, 1]


def test_a_request_arriving_within_the_delay_joins_the_batch() -> None:
    queue = _queue(BatchPolicy(dynamic=True, max_batch=2, delay_ns=3600 * 10**9), [1])
    result: list[list[Job]] = []
    collector = threading.Thread(target=lambda: result.append(queue.next_batch()))
    collector.start()
    queue.put(_job(1, 1))
    collector.join(timeout=30)
    assert [[job.request_id for job in batch] for batch in result] == [[0, 1]]


@pytest.mark.parametrize("dynamic", [False, True])
def test_closing_releases_waiting_executors(dynamic: bool) -> None:
    queue = _queue(BatchPolicy(dynamic=dynamic, max_batch=8), [])
    result: list[list[Job]] = []
    executor = threading.Thread(target=lambda: result.append(queue.next_batch()))
    executor.start()
    queue.close()
    executor.join(timeout=30)
    assert result == [[]]


def _model(batch_dynamic: bool) -> ModelInfo:
    tensor = TensorSpec(name="x", shape=(-1 if batch_dynamic else 1, 4), dtype="float32")
    return ModelInfo(
        name="m",
        base="m",
        kind="sleep",
        path=None,
        inputs=(tensor,),
        outputs=(tensor,),
        batch_dynamic=batch_dynamic,
        params=0,
        flops=0,
        source="test",
        weights="none",
        options={},
    )


def test_batch_checks_follow_triton() -> None:
    config = TenantConfig(model="m", max_batch_size=4)
    assert batch_problem(_model(True), config, 4) is None
    assert batch_problem(_model(True), config, 5) == "batch 5 exceeds max_batch_size 4"
    assert batch_problem(_model(False), config, 1) is None
    assert "fixed input shape" in (batch_problem(_model(False), config, 2) or "")


def test_client_refuses_a_url_without_the_scheme() -> None:
    with pytest.raises(ConfigError, match="inproc://DIR"):
        InprocessClient("127.0.0.1:8001", timeout_s=1)


def test_client_check_names_a_missing_directory(tmp_path: Path) -> None:
    client = InprocessClient(f"inproc://{tmp_path / 'nowhere'}", timeout_s=1)
    with pytest.raises(EndpointError, match="no such directory"):
        asyncio.run(client.check())
