"""Shared core helpers: one-line messages, atomic file writes, the in-process reference's URLs."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus.core import wire
from perseus.core.errors import ConfigError, one_line
from perseus.core.files import atomic_write_bytes, atomic_write_text, replacing


def test_one_line_folds_white_space_and_names_a_silent_exception() -> None:
    assert one_line("  a\n\tb  c\n") == "a b c"
    assert one_line(ValueError("bad\n  value")) == "bad value"
    assert one_line(TimeoutError()) == "TimeoutError"
    assert one_line(ValueError("bad\nvalue"), with_type=True) == "ValueError: bad value"
    assert one_line(ValueError(), with_type=True) == "ValueError"


def test_one_line_marks_a_cut() -> None:
    assert one_line("x" * 10, limit=10) == "x" * 10
    assert one_line("x" * 11, limit=10) == "x" * 9 + "…"
    assert one_line("x" * 1000, limit=None) == "x" * 1000
    assert len(one_line(RuntimeError("y" * 1000))) == 300


@given(st.text(), st.integers(1, 50))
def test_one_line_is_one_line_within_the_limit(text: str, limit: int) -> None:
    line = one_line(text, limit)
    assert len(line) <= limit and line == line.strip() and len(line.splitlines()) <= 1


def test_atomic_writes_replace_the_file(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    atomic_write_bytes(path, b"\x00three")
    assert path.read_bytes() == b"\x00three"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        assert tmp.parent == tmp_path and tmp != path
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_in_process_urls_round_trip(tmp_path: Path) -> None:
    url = wire.format_url(tmp_path)
    assert url.startswith(wire.URL_SCHEME) and wire.parse_url(url) == tmp_path


@pytest.mark.parametrize("url", ["127.0.0.1:8001", "inproc://", "http://x"])
def test_a_url_that_is_not_in_process_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="inproc://DIR"):
        wire.parse_url(url)
