"""The input values a measurement sends (models/inputs.py, config/inputs.py): each generator, the file
checks, and the same values on every path (the load generator's requests, the in-process reference)."""

import ctypes
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.config.inputs import describe_input_data, input_data_problem, parse_input_data
from perseus.core.errors import ConfigError, ModelError
from perseus.loadgen.clients import request_inputs
from perseus.models.inputs import InputTensor, glibc_rand_bytes, make_inputs
from perseus.models.spec import WEIGHTS_USER, ModelInfo
from perseus.serving.inprocess_worker import Inputs

IMAGE = InputTensor("data", (-1, 3, 224, 224), np.dtype("float32"))
DTYPES = ["float32", "float16", "float64", "int64", "int32", "uint8", "bool"]


def _tensor(name: str = "x", shape: tuple[int, ...] = (-1, 4), dtype: str = "float32") -> InputTensor:
    return InputTensor(name, shape, np.dtype(dtype))


shapes = st.lists(st.integers(-1, 4), min_size=1, max_size=4).map(tuple)


def test_random_is_glibc_rand_from_seed_1_cut_to_bytes() -> None:
    """perf_analyzer 2.51 (src/data_loader.cc, GenerateData) fills a uint8 buffer with rand(), never
    seeded: these are the same bytes, computed without touching the C library's state."""
    libc = ctypes.CDLL("libc.so.6")
    libc.srand(1)
    expected = bytes(libc.rand() & 0xFF for _ in range(20_000))
    assert glibc_rand_bytes(20_000) == expected
    assert glibc_rand_bytes(7) == expected[:7]


def test_random_bytes_are_uniform_and_as_fp32_hold_every_kind_of_float() -> None:
    """What perf_analyzer's random data is, as a SqueezeNet input: every byte value about equally often,
    so as FP32 a uniform exponent byte: 1/256 NaN (exponent 255), 1/256 zero or subnormal (exponent 0),
    and magnitudes from 1e-38 to 3e38 (half above 2)."""
    x = make_inputs("random", [IMAGE], 1)["data"]
    counts = np.bincount(np.frombuffer(x.tobytes(), dtype=np.uint8), minlength=256)
    assert counts.min() > 0.9 * x.nbytes / 256 and counts.max() < 1.1 * x.nbytes / 256
    values = x.ravel()
    tiny = np.finfo(np.float32).tiny
    assert 0.003 < np.isnan(values).mean() < 0.005
    assert 0.003 < ((values != 0) & (np.abs(values) < tiny)).mean() < 0.005
    assert 0.45 < (np.abs(values) >= 2).mean() < 0.51


def test_random_rows_repeat_and_every_input_starts_the_same_buffer() -> None:
    tensors = [_tensor("a", (-1, 6)), _tensor("b", (-1, 2), "int64"), _tensor("c", (-1, 3), "bool")]
    arrays = make_inputs("random", tensors, 3)
    buffer = glibc_rand_bytes(24)  # the largest row: 6 float32 = 2 int64 = 24 bytes
    assert arrays["a"].shape == (3, 6) and arrays["a"][0].tobytes() == buffer
    assert all(row.tobytes() == buffer for row in arrays["a"])
    assert arrays["b"][2].tobytes() == buffer[:16]
    # A bool byte must be 0 or 1: its low bit.
    assert arrays["c"][0].tolist() == [bool(b & 1) for b in buffer[:3]]


@settings(max_examples=50, deadline=None)
@given(shape=shapes, dtype=st.sampled_from(DTYPES), batch=st.integers(1, 5))
def test_zeros_are_zeros_of_the_models_shape_and_dtype(
    shape: tuple[int, ...], dtype: str, batch: int
) -> None:
    tensor = _tensor("x", shape, dtype)
    (array,) = make_inputs("zeros", [tensor], batch).values()
    assert array.dtype == np.dtype(dtype) and array.shape == tensor.shape_at(batch)
    assert not array.any()
    assert array.shape[0] == (batch if shape[0] == -1 else shape[0])


@settings(max_examples=50, deadline=None)
@given(
    shape=shapes,
    dtype=st.sampled_from(DTYPES),
    batch=st.integers(1, 5),
    data=st.sampled_from(["normal", "random"]),
)
def test_every_generator_fits_the_model(shape: tuple[int, ...], dtype: str, batch: int, data: str) -> None:
    tensor = _tensor("x", shape, dtype)
    (array,) = make_inputs(data, [tensor], batch, np.random.default_rng(0)).values()
    assert array.dtype == np.dtype(dtype) and array.shape == tensor.shape_at(batch)
    assert array.flags.c_contiguous


def test_normal_is_the_value_stream_stored_runs_sent() -> None:
    """`normal` is what perseus always sent: a generator seeded [seed, batch, *tenant], standard normal
    floats input after input, integers 0-7."""
    meta = {
        "inputs": [
            {"name": "a", "datatype": "FP32", "shape": [-1, 3, 4]},
            {"name": "b", "datatype": "INT64", "shape": [2, -1]},
        ]
    }
    sent = request_inputs(meta, 2, 5, "resnet50")
    rng = np.random.default_rng([5, 2, *b"resnet50"])
    assert sent[0] == ("a", [2, 3, 4], "FP32", rng.standard_normal((2, 3, 4)).astype(np.float32).tobytes())
    assert sent[1] == ("b", [2, 1], "INT64", rng.integers(0, 8, (2, 1)).astype(np.int64).tobytes())
    assert request_inputs(meta, 2, 5, "resnet50", "normal") == sent
    zeros = request_inputs(meta, 2, 5, "resnet50", "zeros")
    assert [z[1] for z in zeros] == [[2, 3, 4], [2, 1]] and not any(any(z[3]) for z in zeros)


def test_the_in_process_reference_holds_the_inputs_it_was_started_with() -> None:
    info = ModelInfo.model_validate(
        {
            "name": "m", "base": "m", "kind": "onnx", "path": None, "batch_dynamic": True, "params": None,
            "flops": None, "source": "test", "weights": WEIGHTS_USER, "options": {}, "outputs": [],
            "inputs": [{"name": "x", "shape": [-1, 5], "dtype": "float32"}],
        }
    )  # fmt: skip
    assert not Inputs(info, "zeros").get(3)["x"].any()
    assert Inputs(info, "random").get(2)["x"][1].tobytes() == glibc_rand_bytes(20)
    assert Inputs(info).get(2)["x"].std() > 0.1  # normal by default


# --- a file of tensors ----------------------------------------------------------------------------


def _npz(tmp_path: Path, **arrays: Any) -> str:
    path = tmp_path / "inputs.npz"
    np.savez(path, **arrays)
    return f"file:{path}"


def test_a_file_sends_its_own_values(tmp_path: Path) -> None:
    rows = np.arange(12, dtype=np.float32).reshape(3, 4)
    data = _npz(tmp_path, x=rows, y=np.array([7, 8], dtype=np.int64))
    tensors = [_tensor("x"), _tensor("y", (2,), "int64")]
    arrays = make_inputs(data, tensors, 2)
    assert np.array_equal(arrays["x"], rows[:2]) and arrays["y"].tolist() == [7, 8]
    one_row = _npz(tmp_path, x=rows[1], y=np.array([7, 8], dtype=np.int64))
    assert np.array_equal(make_inputs(one_row, tensors, 3)["x"], np.stack([rows[1]] * 3))
    npy = tmp_path / "one.npy"
    np.save(npy, rows)
    assert np.array_equal(make_inputs(f"file:{npy}", [_tensor("x")], 3)["x"], rows)
    # A dynamic dim other than the batch takes the file's own size.
    wide = np.ones((2, 9), dtype=np.float32)
    assert make_inputs(_npz(tmp_path, x=wide), [_tensor("x", (-1, -1))], 2)["x"].shape == (2, 9)


@pytest.mark.parametrize(
    ("arrays", "tensors", "needle"),
    [
        ({"x": np.zeros((2, 4))}, [_tensor()], "input 'x' is float64 there, the model takes float32"),
        ({"x": np.zeros((2, 5), np.float32)}, [_tensor()], "input 'x' has shape [2, 5], the model takes"),
        ({"x": np.zeros((1, 2, 4), np.float32)}, [_tensor()], "has shape [1, 2, 4]"),
        ({"x": np.zeros((2, 4), np.float32)}, [_tensor()], "has 2 rows, a request of batch 3 needs 3"),
        (
            {"xs": np.zeros(4, np.float32)},
            [_tensor()],
            "'xs' is not an input (did you mean 'x'?)",
        ),
        ({}, [_tensor()], "no array for input 'x'"),
        ({"x": np.zeros(3, np.float32)}, [_tensor("x", (3,)), _tensor("y", (3,))], "no array for input 'y'"),
        ({"x": np.zeros(4, np.float32)}, [_tensor("x", (5,))], "has shape [4], the model takes [5]"),
    ],
)
def test_a_file_that_does_not_fit_the_model_is_one_line(
    tmp_path: Path, arrays: dict[str, Any], tensors: list[InputTensor], needle: str
) -> None:
    data = _npz(tmp_path, **arrays)
    with pytest.raises(ConfigError) as caught:
        make_inputs(data, tensors, 3)
    message = str(caught.value)
    assert needle in message and f"input data file {data.removeprefix('file:')}" in message
    assert "\n" not in message


def test_a_file_that_is_not_there_or_not_numpy_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.npz: cannot read it"):
        make_inputs(f"file:{tmp_path / 'missing.npz'}", [_tensor()], 1)
    junk = tmp_path / "junk.npy"
    junk.write_text("not numpy")
    with pytest.raises(ConfigError, match=r"junk\.npy: not a numpy \.npy file"):
        make_inputs(f"file:{junk}", [_tensor()], 1)
    npy = tmp_path / "one.npy"
    np.save(npy, np.zeros((1, 4), np.float32))
    with pytest.raises(ConfigError, match=r"a \.npy file holds one tensor, the model takes 2 inputs"):
        make_inputs(f"file:{npy}", [_tensor("a"), _tensor("b")], 1)


def test_a_file_rewritten_in_place_is_read_again(tmp_path: Path) -> None:
    data = _npz(tmp_path, x=np.zeros(4, np.float32))
    assert not make_inputs(data, [_tensor()], 1)["x"].any()
    _npz(tmp_path, x=np.ones((2, 4), np.float32))
    assert make_inputs(data, [_tensor()], 1)["x"].all()


# --- the setting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["normal", "zeros", "random", "file:a.npz", "file:dir/b.npy"])
def test_valid_settings(value: str) -> None:
    assert input_data_problem(value) is None and parse_input_data(value, "--input-data") == value
    assert describe_input_data(value).startswith(value + " (")


@settings(max_examples=100)
@given(st.text(max_size=20))
def test_any_other_setting_is_refused_in_one_line(value: str) -> None:
    valid = value in ("normal", "zeros", "random") or (
        value.startswith("file:") and value[5:].strip() and Path(value[5:]).suffix in (".npz", ".npy")
    )
    problem = input_data_problem(value)
    assert (problem is None) == bool(valid)
    if problem is not None:
        with pytest.raises(ConfigError) as caught:
            parse_input_data(value, "--input-data")
        assert str(caught.value).startswith("--input-data: ")


def test_perf_analyzers_spelling_gets_a_hint() -> None:
    assert "(did you mean 'zeros'?)" in (input_data_problem("zero") or "")
    assert "file must be .npz" in (input_data_problem("file:inputs.json") or "")
    with pytest.raises(ModelError, match="batch must be at least 1"):
        make_inputs("zeros", [_tensor()], 0)
